"""backend.py -- the FastAPI backend of the http_backend benchmark: one
operation, GET /items/{item_id}, answering a small JSON object. FastAPI
serves its own OpenAPI document at /openapi.json, which mcpd's http_backend
plugin and @ivotoby/openapi-mcp-server both read. One uvicorn worker.

    /usr/bin/python3 tests/bench/backend.py PORT

(Debian's python3-fastapi and python3-uvicorn: run it with the system
Python, /usr/bin/python3.)"""
import sys

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="mcpd bench backend", version="1.0.0")


class Item(BaseModel):
    id: int
    name: str
    price: float


@app.get("/items/{item_id}", operation_id="get_item", summary="Get an item",
         response_model=Item)
async def get_item(item_id: int):
    return {"id": item_id, "name": "widget", "price": 9.5}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), workers=1,
                access_log=False, log_level="warning")
