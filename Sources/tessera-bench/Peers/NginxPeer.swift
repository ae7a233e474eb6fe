import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// nginx (Debian `nginx-light`) serving a JWKS document as a static file: the floor for what
/// `GET /.well-known/jwks.json` can cost on one core. Its own config, document, pid file, logs
/// and temporary folders live in a folder of the workspace; nothing of /etc/nginx is read.
struct NginxPeer {
    let baseURL: String
    let path = HTTPBenchmark.jwksRequest.path
    private let process: ChildProcess

    /// Starts `nginx` (master and its one worker) on `cores` and waits until it serves the document.
    static func start(serving document: JWKSDocument, cores: CoreSet, workspace: Workspace) async throws -> NginxPeer {
        let executable = try await DebianPackage.executable("nginx", package: "nginx-light", workspace: workspace)
        let folder = workspace.path("nginx")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let documentPath = (folder as NSString).appendingPathComponent("jwks.json")
        try document.body.write(to: URL(fileURLWithPath: documentPath))
        let port = try LoopbackPort.free()
        let configPath = (folder as NSString).appendingPathComponent("nginx.conf")
        try config(folder: folder, documentPath: documentPath, port: port, document: document)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        // Errors go to standard error, so into the child's log in the workspace (and into the
        // failure message of `waitUntilServing`); `-e` from the first line on, before the config is
        // read, when nginx would otherwise open /var/log/nginx/error.log. `daemon off`: the process
        // we start stays the master, so `stop()` signals nginx itself; its worker inherits the
        // taskset affinity.
        let process = try ChildProcess(name: "nginx-\(port)", executable: executable,
                                       arguments: ["-e", "stderr", "-p", folder, "-c", configPath],
                                       cores: cores, workspace: workspace)
        let peer = NginxPeer(baseURL: "http://127.0.0.1:\(port)", process: process)
        try await process.waitUntilServing(peer.baseURL + peer.path)
        return peer
    }

    private init(baseURL: String, process: ChildProcess) {
        self.baseURL = baseURL
        self.process = process
    }

    func stop() { process.stop() }

    /// What nginx wrote, for error messages.
    var output: String { process.output }

    /// `worker_processes 1`: one worker on the one server core, as Tessera has one process there.
    /// `user root` when we are root: the document sits in the workspace, which only the
    /// benchmark's user may enter (0700), so nginx's default worker user (nobody) could not read it.
    /// `keepalive_requests` high so wrk's connections persist for the whole run, as they do with
    /// Tessera (nginx closes a connection after 1000 requests by default). No access log, as
    /// Tessera at warning level logs nothing per request.
    private static func config(folder: String, documentPath: String, port: Int, document: JWKSDocument) -> String {
        func inFolder(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        let cacheControl = document.cacheControl.flatMap(headerValue).map { "      add_header Cache-Control \"\($0)\";\n" } ?? ""
        let user = geteuid() == 0 ? "user root;\n" : ""
        return """
        \(user)daemon off;
        master_process on;
        worker_processes 1;
        pid \(inFolder("nginx.pid"));
        error_log stderr warn;
        events {
          worker_connections 1024;
        }
        http {
          access_log off;
          keepalive_timeout 75s;
          keepalive_requests 1000000;
          client_body_temp_path \(inFolder("tmp-body"));
          proxy_temp_path \(inFolder("tmp-proxy"));
          fastcgi_temp_path \(inFolder("tmp-fastcgi"));
          uwsgi_temp_path \(inFolder("tmp-uwsgi"));
          scgi_temp_path \(inFolder("tmp-scgi"));
          server {
            listen 127.0.0.1:\(port);
            location = \(HTTPBenchmark.jwksRequest.path) {
              alias \(documentPath);
              default_type \(headerValue(document.contentType) ?? "application/json");
        \(cacheControl)    }
          }
        }

        """
    }

    /// A header value nginx's config can hold verbatim; nil for anything needing quoting rules.
    private static func headerValue(_ value: String) -> String? {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: " ,=-/+.")
        return !value.isEmpty && value.unicodeScalars.allSatisfy(allowed.contains) ? value : nil
    }
}
