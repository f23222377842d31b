"""A module with planted problems for the review tests (never imported)."""

import hashlib
import pickle
import sqlite3
import subprocess

import yaml

API_PASSWORD = "s3cr3t-hunter2"


def run(expression, command, blob, document, name, password):
    value = eval(expression)
    exec(command)
    conn = sqlite3.connect("app.db")
    rows = conn.execute("SELECT * FROM users WHERE name = '%s'" % name).fetchall()
    subprocess.call(command, shell=True)
    data = pickle.loads(blob)
    config = yaml.load(document)
    digest = hashlib.md5(password.encode()).hexdigest()
    return value, rows, data, config, digest
