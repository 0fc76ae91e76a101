import os

os.environ.setdefault("SECRET_KEY", "test")

import app as notes  # noqa: E402


def client(tmp_path):
    notes.DATABASE = str(tmp_path / "test.sqlite3")
    return notes.app.test_client()


def test_empty_list(tmp_path):
    assert client(tmp_path).get("/").get_json() == {"notes": []}


def test_add_and_list(tmp_path):
    c = client(tmp_path)
    assert c.post("/notes", json={"text": "buy tea"}).status_code == 201
    assert c.get("/").get_json()["notes"][0]["text"] == "buy tea"


def test_empty_text_is_refused(tmp_path):
    assert client(tmp_path).post("/notes", json={"text": " "}).status_code == 400
