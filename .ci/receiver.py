"""The webhook receiver of .ci/worker and .ci/stack: `python receiver.py SECRET PORT_FILE OUT`.

Binds port 0, writes its port to PORT_FILE, verifies every POST with the
standardwebhooks library and appends each verified delivery to OUT as one JSON
line; anything else is a 400.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from standardwebhooks import Webhook

secret, port_file, verified_file = sys.argv[1:]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        try:
            payload = Webhook(secret).verify(body, dict(self.headers))
        except Exception as error:
            print(f"refused {self.headers.get('webhook-id')}: {error!r}", flush=True)
            self.send_response(400)
        else:
            line = {"webhook_id": self.headers["webhook-id"], "type": payload["type"]}
            with open(verified_file, "a") as out:
                out.write(json.dumps(line) + "\n")
            print(f"verified {line}", flush=True)
            self.send_response(204)
        self.end_headers()


server = HTTPServer(("127.0.0.1", 0), Handler)
Path(port_file).write_text(str(server.server_address[1]))
server.serve_forever()
