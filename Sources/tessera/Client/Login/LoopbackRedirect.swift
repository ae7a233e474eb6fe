import Foundation

/// Where the browser brings the authorization response (RFC 8252 §7.3): a listener on the
/// loopback interface, on a port the system picks, for one sign-in. It answers only
/// `GET /callback`; anything else (a browser's favicon request) gets 404 and the wait goes on.
final class LoopbackRedirect: @unchecked Sendable {
    /// The authorization response's query parameters.
    typealias Parameters = [String: String]

    let port: Int
    private let descriptor: Int32

    init() throws(ClientFailure) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ClientFailure(.failure, "cannot open a loopback socket for the sign-in redirect") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard bound == 0, named == 0, listen(descriptor, 8) == 0 else {
            Glibc.close(descriptor)
            throw ClientFailure(.failure, "cannot listen on 127.0.0.1 for the sign-in redirect")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { Glibc.close(descriptor) }

    var redirectURI: String { "http://127.0.0.1:\(port)/callback" }

    /// The parameters of the first `GET /callback`, once the browser has been answered.
    func waitForCallback(timeout: TimeInterval) async throws(ClientFailure) -> Parameters {
        let result: Result<Parameters, ClientFailure> = await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: self.accept(until: Date().addingTimeInterval(timeout))) }
            thread.start()
        }
        return try result.get()
    }

    private func accept(until deadline: Date) -> Result<Parameters, ClientFailure> {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else {
                return .failure(ClientFailure(.notSignedIn, "no answer from the browser within the time allowed; run `tessera login` again"))
            }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(min(remaining, 1) * 1000)) > 0 else { continue }
            let connection = Glibc.accept(descriptor, nil, nil)
            guard connection >= 0 else { continue }
            defer { Glibc.close(connection) }
            if let parameters = serve(connection) { return .success(parameters) }
        }
    }

    /// Reads one request; the callback's parameters, or nil for any other request.
    private func serve(_ connection: Int32) -> Parameters? {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while received.count < 16 * 1024, !Self.holdsRequestHead(received) {
            let count = recv(connection, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            received += chunk[0..<count]
        }
        let requestLine = String(decoding: received.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let parts = requestLine.split(separator: " ")
        guard parts.count == 3, parts[0] == "GET", let target = URLComponents(string: String(parts[1])), target.path == "/callback" else {
            respond(connection, status: "404 Not Found", body: "Not found.")
            return nil
        }
        var parameters = Parameters()
        for item in target.queryItems ?? [] where parameters[item.name] == nil {
            parameters[item.name] = item.value ?? ""
        }
        let message = parameters["code"] != nil
            ? "Signed in to Tessera. You can close this tab and return to the terminal."
            : "The sign-in did not complete. The terminal says why."
        respond(connection, status: "200 OK", body: message)
        return parameters
    }

    /// Whether the bytes hold a whole request head (a blank line ends it).
    private static func holdsRequestHead(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes.indices.dropLast(3).contains {
            bytes[$0] == 0x0D && bytes[$0 + 1] == 0x0A && bytes[$0 + 2] == 0x0D && bytes[$0 + 3] == 0x0A
        }
    }

    private func respond(_ connection: Int32, status: String, body: String) {
        let page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Tessera</title></head><body><p>\(body)</p></body></html>"
        let response = "HTTP/1.1 \(status)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(page.utf8.count)\r\n"
            + "Cache-Control: no-store\r\nConnection: close\r\n\r\n" + page
        _ = Array(response.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
