import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// glewlwyd's administration API (`/api/...`) as the admin user: everything the peer needs is
/// created through it, so plugin, scope and clients are stored exactly as an operator's would be.
struct GlewlwydAdmin {
    let baseURL: String
    /// The session cookie `POST /api/auth/` set; sent by hand so no cookie store is involved.
    private let sessionCookie: String
    private let session: URLSession

    /// The administrator the initial schema (`init.sqlite3.sql`) creates, with its documented
    /// default password.
    static let username = "admin"
    static let password = "password"

    static func logIn(baseURL: String) async throws -> GlewlwydAdmin {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        let session = URLSession(configuration: configuration)
        let (status, body, response) = try await send(session, "POST", baseURL + "/api/auth/", cookie: nil,
                                                      json: ["username": username, "password": password])
        guard status == 200, let setCookie = response?.value(forHTTPHeaderField: "Set-Cookie"),
              let cookie = setCookie.split(separator: ";").first.map(String.init), cookie.contains("=") else {
            throw BenchError(description: "glewlwyd admin login answered \(status) without a session cookie: \(String(decoding: body, as: UTF8.self))")
        }
        return GlewlwydAdmin(baseURL: baseURL, sessionCookie: cookie, session: session)
    }

    /// `POST` or `PUT` a JSON object (nil: no body); anything but 200 fails the run with
    /// glewlwyd's answer.
    func write(_ method: String, _ path: String, _ object: [String: Any]?) async throws {
        let (status, body, _) = try await Self.send(session, method, baseURL + path, cookie: sessionCookie, json: object)
        guard status == 200 else {
            throw BenchError(description: "glewlwyd \(method) \(path) answered \(status): \(String(decoding: body, as: UTF8.self))")
        }
    }

    /// `GET` a JSON object.
    func read(_ path: String) async throws -> [String: Any] {
        let (status, body, _) = try await Self.send(session, "GET", baseURL + path, cookie: sessionCookie, json: nil)
        guard status == 200, let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw BenchError(description: "glewlwyd GET \(path) answered \(status): \(String(decoding: body, as: UTF8.self))")
        }
        return object
    }

    private static func send(_ session: URLSession, _ method: String, _ url: String, cookie: String?,
                             json: [String: Any]?) async throws -> (status: Int, body: Data, response: HTTPURLResponse?) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 10
        if let cookie { request.setValue(cookie, forHTTPHeaderField: "Cookie") }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
        }
        let (data, response) = try await session.data(for: request)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, data, http)
    }
}
