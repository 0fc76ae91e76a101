"""A small notes service: the repository `reporunner run` is shown on in the README."""
import os
import sqlite3

from flask import Flask, g, jsonify, request

app = Flask(__name__)
app.secret_key = os.environ["SECRET_KEY"]
DATABASE = os.environ.get("NOTES_DB", "notes.sqlite3")


def db():
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE)
        g.db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    return g.db


@app.teardown_appcontext
def close(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


@app.get("/")
def index():
    rows = db().execute("SELECT id, text FROM notes ORDER BY id").fetchall()
    return jsonify(notes=[{"id": i, "text": t} for i, t in rows])


@app.post("/notes")
def add():
    text = (request.get_json(silent=True) or {}).get("text", "").strip()
    if not text:
        return jsonify(error="text is required"), 400
    conn = db()
    cur = conn.execute("INSERT INTO notes (text) VALUES (?)", (text,))
    conn.commit()
    return jsonify(id=cur.lastrowid, text=text), 201
