"""A realistic upstream for the proxy benchmark: the same small JSON object from a FastAPI route
(validation of the response model included), as an API built on the decided stack would answer.

    python -m bench.upstream_fastapi --port 8082
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

__all__ = ["create_upstream", "main"]


class Order(BaseModel):
    id: int
    name: str
    items: list[int]


def create_upstream() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/__small")
    async def small() -> Order:
        return Order(id=42, name="order", items=[1, 2, 3])

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream_fastapi")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_upstream(), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False, server_header=False)


if __name__ == "__main__":
    main()
