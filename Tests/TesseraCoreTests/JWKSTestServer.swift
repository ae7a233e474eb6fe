import Foundation

/// A JWKS server for the upstream tests: Python's http.server on 127.0.0.1, a free port, run as
/// a subprocess that stops by itself when the test process ends (or after two minutes).
final class JWKSTestServer: @unchecked Sendable {
    // Immutable after init except through `stop()`; Process is used from one place at a time.
    let folder: String
    let port: Int
    private let process: Process

    var baseURL: String { "http://127.0.0.1:\(port)" }

    init() async throws {
        folder = try temporaryDirectory("jwks-server")
        let script = folder + "/server.py"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, folder, "120"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        // Waiting for the port file with Task.sleep keeps the concurrency pool free.
        var port: Int?
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: folder + "/port", encoding: .utf8), let value = Int(text) {
                port = value
                break
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        guard let port else {
            process.terminate()
            throw TestServerError(message: "the JWKS test server did not start")
        }
        self.port = port
    }

    struct TestServerError: Error { let message: String }

    /// Serves `body` at `/<name>`, with extra response headers.
    func serve(_ name: String, _ body: String, headers: [String: String] = [:]) throws {
        try body.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
        let headerText = headers.map { "\($0.key): \($0.value)\n" }.joined()
        try headerText.write(toFile: folder + "/" + name + ".headers", atomically: true, encoding: .utf8)
    }

    /// Every request path received so far, in order.
    func requests() -> [String] {
        ((try? String(contentsOfFile: folder + "/requests.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    static let script = #"""
"""A JWKS server for the upstream tests, bound to 127.0.0.1 on a free port.

Serves <folder>/<name> for GET /<name>, with the headers in <folder>/<name>.headers (one
"Name: value" a line) when that file exists; 404 otherwise. GET /hang/... never answers in
time (a dead upstream). Every request path is appended to <folder>/requests.log before it is
answered. Writes the port to <folder>/port once listening. Exits by itself when its parent
dies or after --lifetime seconds.
"""
import http.server
import os
import sys
import threading
import time

folder = sys.argv[1]
lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
log_lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        with log_lock:
            with open(os.path.join(folder, "requests.log"), "a") as log:
                log.write(self.path + "\n")
        if self.path.startswith("/hang"):
            time.sleep(30)
            return
        name = self.path.lstrip("/")
        path = os.path.join(folder, name)
        if "/" in name or name.startswith(".") or not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        headers = path + ".headers"
        if os.path.isfile(headers):
            with open(headers) as f:
                for line in f:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        self.send_header(key.strip(), value.strip())
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
with open(os.path.join(folder, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(folder, "port.tmp"), os.path.join(folder, "port"))


def watchdog():
    parent = os.getppid()
    deadline = time.time() + lifetime
    while time.time() < deadline and os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


threading.Thread(target=watchdog, daemon=True).start()
server.serve_forever()
"""#
}
