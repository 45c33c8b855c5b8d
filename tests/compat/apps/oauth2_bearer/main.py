"""OAuth2 password flow with a bearer token (OAuth2PasswordBearer), scopes, and HTTP Basic beside it."""

import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer, OAuth2PasswordRequestForm

app = FastAPI()
oauth2 = OAuth2PasswordBearer(tokenUrl="token")
basic = HTTPBasic(realm="compat")
USERS = {"alice": "wonderland", "bob": "builder"}


@app.post("/token")
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict:
    if USERS.get(form.username) != form.password:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Incorrect username or password")
    return {"access_token": f"token-{form.username}", "token_type": "bearer", "scopes": form.scopes}


def user_of(token: Annotated[str, Depends(oauth2)]) -> str:
    name = token.removeprefix("token-")
    if name not in USERS:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid token", headers={"WWW-Authenticate": "Bearer"})
    return name


@app.get("/users/me")
def me(user: Annotated[str, Depends(user_of)]) -> dict:
    return {"username": user}


@app.get("/basic")
def basic_me(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> dict:
    if not secrets.compare_digest(USERS.get(credentials.username, ""), credentials.password):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Incorrect credentials", headers={"WWW-Authenticate": 'Basic realm="compat"'}
        )
    return {"username": credentials.username}
