import Foundation
import TesseraCore
import TesseraServer

/// The one `client_secret_basic` client the load test authenticates as.
struct BenchClient {
    let id: String
    let secret: String

    /// Writes `clients.yaml` (format of `ClientsFileEditor.render`) with a fresh secret.
    static func register(policiesDirectory: String) throws -> BenchClient {
        let (secret, sha256Hex) = ClientSecret.generate()
        let yaml = """
        clients:
          - id: "\(TokenFixture.clientID)"
            description: "tessera-bench load client"
            auth_method: client_secret_basic
            secret_sha256: "\(sha256Hex)"
            scopes: [\(TokenFixture.scopes.map { "\"\($0)\"" }.joined(separator: ", "))]
            audiences: ["\(TokenFixture.audience)"]
            token_lifetime: 300s

        """
        try FileManager.default.createDirectory(atPath: policiesDirectory, withIntermediateDirectories: true)
        try yaml.write(toFile: (policiesDirectory as NSString).appendingPathComponent("clients.yaml"), atomically: true, encoding: .utf8)
        return BenchClient(id: TokenFixture.clientID, secret: secret)
    }

    /// `POST /token` with the client_credentials grant, authenticated with HTTP Basic. The id
    /// and the base64url secret contain no characters that RFC 6749 §2.3.1 form-encoding changes.
    var tokenRequest: LoadRequest {
        .clientCredentials(path: "/token", id: id, secret: secret, scope: TokenFixture.scopes[0])
    }
}

extension LoadRequest {
    /// `grant_type=client_credentials` for one scope with HTTP Basic credentials, to any issuer's
    /// token endpoint (Tessera's, or a peer's).
    static func clientCredentials(path: String, id: String, secret: String, scope: String) -> LoadRequest {
        let credentials = Data("\(id):\(secret)".utf8).base64EncodedString()
        return LoadRequest(method: "POST", path: path, headers: [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", "Basic \(credentials)"),
        ], body: "grant_type=client_credentials&scope=\(scope)")
    }
}

extension RunningServer {
    var baseURL: String { "http://127.0.0.1:\(port)" }
}
