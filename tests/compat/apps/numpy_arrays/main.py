"""numpy, from its manylinux wheel: computed results as JSON, an array as .npy bytes, errors from bad input."""

import io

import numpy as np
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel

app = FastAPI()


class Series(BaseModel):
    values: list[float]


@app.post("/stats")
def stats(series: Series) -> dict:
    values = np.asarray(series.values, dtype=np.float64)
    if values.size == 0:
        raise HTTPException(422, "empty series")
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "max": float(values.max()),
        "percentiles": np.percentile(values, [25, 50, 75]).tolist(),
        "version": np.__version__,
    }


@app.get("/matrix/{n}")
def matrix(n: int) -> dict:
    m = np.arange(n * n, dtype=np.int64).reshape(n, n)
    return {"matrix": m.tolist(), "trace": int(np.trace(m)), "det_sign": float(np.sign(np.linalg.det(m + np.eye(n))))}


@app.get("/array.npy")
def array_npy(n: int = 5) -> Response:
    buffer = io.BytesIO()
    np.save(buffer, np.linspace(0, 1, n, dtype=np.float32))
    return Response(buffer.getvalue(), media_type="application/octet-stream")


@app.post("/sum-npy")
async def sum_npy(request: Request) -> dict:
    array = np.load(io.BytesIO(await request.body()))
    return {"sum": float(array.sum()), "dtype": str(array.dtype), "shape": list(array.shape)}
