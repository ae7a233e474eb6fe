import ArgumentParser
import Foundation
import TesseraCore
import TesseraPolicy
import TesseraStore

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Admin access: tokens for the admin API.", subcommands: [Token.self, Revoke.self])

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint a short-lived admin token (audience <issuer>/admin, scope tessera:admin) and print it.",
            discussion: """
            The bootstrap path of admin access: it needs the keys folder and the store, so only someone \
            who could mint any token already can run it. Every token is recorded in the audit log as \
            admin.token_issued and can be revoked like any other.
            """)

        @Option(name: .customLong("subject"), help: "Who the token is for (recorded as the actor).")
        var subject: String

        @Option(name: .customLong("lifetime"), help: "How long the token lives (default 15m, at most 1h).")
        var lifetime: String = "15m"

        @Option(name: .customLong("reason"), help: "Why, recorded in the audit entry.")
        var reason: String?

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption
        @OptionGroup var issuer: IssuerOption
        @OptionGroup var encryption: KeyEncryptionOptions

        func validate() throws {
            guard !subject.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--subject must not be empty") }
            guard let seconds = DurationText.seconds(lifetime), (1...AdminAccess.maximumLifetimeSeconds).contains(seconds) else {
                throw ValidationError("--lifetime must be a duration from 1s to 1h, not \(lifetime)")
            }
        }

        func run() async throws {
            // The store first: it says whether a server ever ran here, before keys are looked for.
            let store = await Audit.openStore(folders, self.store)
            let keys = await currentSigningKeys(folders, self.store, encryption, issuer, storage: store)
            let minted: MintedToken
            do {
                minted = try await AdminAccess.issueToken(
                    subject: subject, lifetimeSeconds: DurationText.seconds(lifetime) ?? AdminAccess.defaultLifetimeSeconds,
                    reason: reason, urls: IssuerURLs(issuer: issuer.value), keys: keys,
                    audit: AuditLog(store: store, timeSource: SystemTimeSource()), timeSource: SystemTimeSource())
            } catch {
                try? await store.close()
                fail("cannot issue the admin token: \(error)")
            }
            try await store.close()
            print(minted.token)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an admin token by its jti (from `audit tail`), ending its access at once on every replica.")

        @Argument(help: "The token's jti. A jti may begin with '-': write `tessera admin revoke -- JTI`.")
        var jwtID: String

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func run() async throws {
            let store = await Audit.openStore(folders, self.store)
            let outcome: RevocationOutcome
            do {
                outcome = try await AdminAccess.revokeToken(jwtID: jwtID, store: store,
                                                            audit: AuditLog(store: store, timeSource: SystemTimeSource()),
                                                            timeSource: SystemTimeSource())
            } catch {
                try? await store.close()
                fail("cannot revoke \(jwtID): \(error)")
            }
            try await store.close()
            switch outcome {
            case .revoked: print("revoked \(jwtID)")
            case .alreadyRevoked: print("\(jwtID) was already revoked")
            case .unknown: fail("no token \(jwtID) is recorded (or it expired and was pruned)")
            case .notOwner: fail("\(jwtID) is not an admin token; its client revokes it with POST /revoke")
            }
        }
    }
}
