"""Forms: URL-encoded and multipart fields, required and defaulted, repeated, validation errors."""

from typing import Annotated

from fastapi import FastAPI, Form
from pydantic import BaseModel

app = FastAPI()


@app.post("/login")
def login(
    username: Annotated[str, Form()],
    password: Annotated[str, Form(min_length=4)],
    remember: Annotated[bool, Form()] = False,
) -> dict:
    return {"username": username, "password_length": len(password), "remember": remember}


@app.post("/choices")
def choices(option: Annotated[list[str], Form()]) -> dict:
    return {"options": option}


class Feedback(BaseModel):
    name: str
    rating: int
    comment: str = ""


@app.post("/feedback")
def feedback(data: Annotated[Feedback, Form()]) -> Feedback:
    return data
