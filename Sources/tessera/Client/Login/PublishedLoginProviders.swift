import Foundation
import TesseraPolicy

/// The sign-in providers a Tessera server publishes in its metadata
/// (`tessera_login_providers`, from the upstreams with `login:`), for a CLI with no provider
/// settings of its own. Only https issuers (http on loopback) are taken.
struct PublishedLoginProviders {
    struct Provider {
        let id: String
        let issuer: String
        let clientID: String
        let scopes: [String]
    }

    static func fetch(issuer: String) async throws(ClientFailure) -> [Provider] {
        let api = TesseraAPIClient.make(issuer: issuer)
        let answer: TesseraAPIClient.Answer
        do throws(ClientFailure) {
            answer = try await api.call("GET", "/.well-known/oauth-authorization-server")
        } catch {
            await api.shutdown()
            throw error
        }
        await api.shutdown()
        guard answer.status == 200 else {
            throw ClientFailure(.unavailable, "\(issuer) does not look like a Tessera server: its discovery document answered \(answer.status)")
        }
        let listed = answer.body["tessera_login_providers"] as? [[String: Any]] ?? []
        return listed.compactMap { entry in
            guard let id = entry["id"] as? String, let issuer = entry["issuer"] as? String, UpstreamDefinition.isAcceptableURL(issuer),
                  let clientID = entry["client_id"] as? String, !clientID.isEmpty
            else { return nil }
            let scopes = (entry["scopes"] as? [String]).flatMap { $0.contains("openid") ? $0 : nil } ?? ClientConfiguration.LoginProvider.defaultScopes
            return Provider(id: id, issuer: issuer, clientID: clientID, scopes: scopes)
        }
    }
}
