"""An API key in a header (APIKeyHeader), required or optional, beside the x-api-key API Gateway meters by."""

from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import APIKeyHeader, APIKeyQuery

app = FastAPI()
token_header = APIKeyHeader(name="X-Creator-Token")
optional_header = APIKeyHeader(name="X-Creator-Token", auto_error=False)
token_query = APIKeyQuery(name="token", auto_error=False)
TOKENS = {"t-gold": "gold", "t-silver": "silver"}


def tier(token: Annotated[str, Security(token_header)]) -> str:
    if token not in TOKENS:
        raise HTTPException(status_code=403, detail="Unknown token")
    return TOKENS[token]


@app.get("/report")
def report(level: Annotated[str, Depends(tier)]) -> dict:
    return {"tier": level}


@app.get("/greeting")
def greeting(
    header: Annotated[str | None, Security(optional_header)], query: Annotated[str | None, Security(token_query)]
) -> dict:
    token = header or query
    return {"tier": TOKENS.get(token or "", "anonymous"), "from": "header" if header else "query" if query else None}


@app.get("/metered-key")
def metered_key(key: Annotated[str | None, Security(APIKeyHeader(name="x-api-key", auto_error=False))]) -> dict:
    """The consumer's key reaches the app too (the authorizer checked it first)."""
    return {"present": key is not None, "length": len(key or "")}
