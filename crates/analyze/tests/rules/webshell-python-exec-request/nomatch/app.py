from flask import Flask, request
import subprocess
app = Flask(__name__)

@app.route("/version")
def version():
    name = request.args.get("name", "world")
    rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    return f"hello {name}, build {rev}"
