"""Status codes and bodies that HTTP treats specially: 201 with Location, 202, 204, 304, 4xx and 5xx with bodies."""

from fastapi import FastAPI, Response, status
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/created", status_code=status.HTTP_201_CREATED)
def created(response: Response) -> dict:
    response.headers["Location"] = "/v1/things/7"
    return {"id": 7}


@app.post("/accepted")
def accepted() -> Response:
    return Response(status_code=202)


@app.delete("/things/{thing_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(thing_id: int) -> None:
    return None


@app.get("/not-modified")
def not_modified() -> Response:
    return Response(status_code=304, headers={"ETag": '"abc"'})


@app.get("/teapot")
def teapot() -> JSONResponse:
    return JSONResponse({"short": "and stout"}, status_code=418)


@app.get("/unavailable")
def unavailable() -> JSONResponse:
    return JSONResponse({"retry": True}, status_code=503, headers={"Retry-After": "120"})


@app.get("/custom-status")
def custom_status() -> JSONResponse:
    return JSONResponse({"code": 299}, status_code=299)


@app.get("/none")
def none() -> None:
    return None
