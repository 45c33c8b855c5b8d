"""TrustedHostMiddleware: the execute-api host allowed by a wildcard; and HTTPS enforced by the scheme it sees."""

from fastapi import FastAPI, Request
from fastapi.middleware.trustedhost import TrustedHostMiddleware

app = FastAPI()
app.add_middleware(TrustedHostMiddleware, allowed_hosts=["*.execute-api.us-east-1.amazonaws.com", "api.example.com"])


@app.get("/")
def root(request: Request) -> dict:
    return {"host": request.url.hostname, "secure": request.url.scheme == "https"}


@app.get("/only-https")
def only_https(request: Request) -> dict:
    return {"scheme": request.url.scheme, "port": request.url.port}
