import ServiceLifecycle
import TesseraCore

/// Moves signing keys through their lifecycle on time (publishing the next key, promoting it,
/// retiring and removing old ones) and picks up changes made by other replicas or by
/// `tessera keys` within one interval, so every replica serves the same JWKS seconds after a change.
struct KeyRotationService: Service {
    let keys: KeyManager
    let interval: Duration

    func run() async throws {
        await repeatEvery(interval, startNow: false) { await keys.tick() }
    }
}
