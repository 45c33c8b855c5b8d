"""CORSMiddleware: a preflight that asks for the x-api-key header, simple requests, credentials, exposed headers."""

from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware

app = FastAPI()
app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://shop.example.com", "https://admin.example.com"],
    allow_credentials=True,
    allow_methods=["GET", "POST", "DELETE"],
    allow_headers=["x-api-key", "content-type", "authorization"],
    expose_headers=["x-total-count"],
    max_age=600,
)


@app.get("/items")
def items(response: Response) -> list[dict]:
    response.headers["X-Total-Count"] = "2"
    return [{"id": 1}, {"id": 2}]


@app.post("/items")
def create() -> dict:
    return {"created": True}
