import Foundation
import Logging
import TesseraJWT
import TesseraStore

/// The upgrade of a database key set written before sets had a MAC: what `KeyManager.open`
/// runs first when it holds the KEK.
enum KeySetUpgrade {
    /// A set written before sets had a MAC (schema version 2): every key, sealed with
    /// its kid alone as associated data, is re-sealed with its row binding, and the set is
    /// written back with its MAC. Only here, on a start holding the KEK; a running server treats
    /// a set without a MAC as tampered with. A key that does not open (plain PEM, another KEK,
    /// altered) stops the upgrade and the start: nothing unauthenticated is ever used.
    ///
    /// Someone who can write the database could remove the MAC to come back here, but gains
    /// nothing a restored backup would not give: only keys genuinely sealed with the KEK open.
    static func run(_ snapshot: SigningKeySnapshot, store: any SigningKeyStore, codec: KeyMaterialCodec,
                    authenticator: KeySetAuthenticator, location: String, audit: AuditLog,
                    logger: Logger) async throws(KeyDirectoryError) -> SigningKeySnapshot {
        var snapshot = snapshot
        for _ in 0..<20 {
            guard snapshot.mac == nil, !snapshot.records.isEmpty else { return snapshot }
            var records: [SigningKeyRecord] = []
            for record in snapshot.records {
                let entry = try SigningKeyEntry(record: record)
                var upgraded = record
                upgraded.material = try codec.reseal(record.material, from: entry, to: entry, location: "\(location) (kid \(record.kid))",
                                                     legacyBinding: true)
                records.append(upgraded)
            }
            let mac = try authenticator.mac(version: snapshot.version + 1, records: records)
            let written: Bool
            do {
                written = try await store.replaceSigningKeys(records, mac: mac, expectedVersion: snapshot.version)
            } catch {
                throw KeyDirectoryError(path: location, message: "cannot write the re-sealed key set: \(error)")
            }
            if written {
                logger.notice("signing keys re-sealed with their rows and the key set authenticated", metadata: [
                    "tessera.keys": .string(location), "tessera.count": .stringConvertible(records.count),
                ])
                _ = try? await audit.record(AuditEvent("key.set_resealed", outcome: .success, target: [
                    "version": .number(Double(snapshot.version + 1)), "kids": .array(records.map { .string($0.kid) }),
                ]))
            }
            // Written, or another replica upgraded first: either way, what is stored now is what counts.
            do {
                snapshot = try await store.signingKeys()
            } catch {
                throw KeyDirectoryError(path: location, message: "cannot read the key set: \(error)")
            }
        }
        throw KeyDirectoryError(path: location, message: "the key set kept changing while it was being re-sealed; try again")
    }
}
