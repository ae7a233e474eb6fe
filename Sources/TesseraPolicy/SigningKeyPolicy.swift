import Foundation

/// One scheduled rotation: a new key of `algorithm` every `periodSeconds`.
public struct KeyRotationSchedule: Sendable, Hashable {
    /// JWS name: ES256, RS256, PS256 or EdDSA.
    public var algorithm: String
    public var periodSeconds: Int

    public init(algorithm: String, periodSeconds: Int) {
        self.algorithm = algorithm
        self.periodSeconds = periodSeconds
    }
}

/// `policies/keys.yaml`: how Tessera's own signing keys rotate.
///
/// This is the policy only. The key lifecycle (generating, pre-publishing, activating and
/// retiring keys) lives in TesseraCore, and the server refuses a `prepublish` shorter than the
/// JWKS `max-age` plus 10 minutes, which this file cannot know.
public struct SigningKeyPolicy: Sendable, Hashable {
    public static let fileName = "keys.yaml"
    public static let defaultPrepublishSeconds = 3600
    public static let supportedAlgorithms = ["ES256", "RS256", "PS256", "EdDSA"]

    /// The algorithm of tokens whose role and client name none.
    public var defaultAlgorithm: String
    /// How long a new key is published before it signs.
    public var prepublishSeconds: Int
    /// Empty: keys rotate only on demand (`tessera keys rotate`).
    public var rotations: [KeyRotationSchedule]
    /// Where it was read from; nil for the defaults (no keys.yaml).
    public var location: SourceLocation?

    public init(defaultAlgorithm: String = "ES256", prepublishSeconds: Int = defaultPrepublishSeconds,
                rotations: [KeyRotationSchedule] = [], location: SourceLocation? = nil) {
        self.defaultAlgorithm = defaultAlgorithm
        self.prepublishSeconds = prepublishSeconds
        self.rotations = rotations
        self.location = location
    }
}

extension PolicyBundle {
    /// Parses the text of a `keys.yaml`. An empty file means the defaults (read from `file`).
    public static func parseSigningKeys(_ text: String, file: String) throws(PolicyError) -> SigningKeyPolicy {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else {
            return SigningKeyPolicy(location: SourceLocation(file: file))
        }
        let members = try root.mapping(allowed: ["signing_keys"])
        guard let keys = members["signing_keys"], !keys.isNull else {
            return SigningKeyPolicy(location: root.location)
        }
        return try SigningKeyPolicy(field: keys)
    }
}

extension SigningKeyPolicy {
    init(field: YAMLField) throws(PolicyError) {
        let members = try field.mapping(allowed: ["default_alg", "prepublish", "rotation"])
        self.init(location: field.location)
        if let algorithmField = members["default_alg"] {
            defaultAlgorithm = try algorithmField.signingAlgorithm()
        }
        if let prepublishField = members["prepublish"] {
            prepublishSeconds = try prepublishField.durationSeconds()
            guard prepublishSeconds > 0 else { throw prepublishField.error("must be longer than 0s") }
        }
        guard let list = members["rotation"], !list.isNull else { return }
        var seen: [String: SourceLocation] = [:]
        for element in try list.sequence() {
            let entry = try element.mapping(allowed: ["alg", "every"])
            guard let algorithmField = entry["alg"] else { throw element.error("a rotation needs an \"alg\"") }
            let algorithm = try algorithmField.signingAlgorithm()
            if let first = seen[algorithm] {
                throw algorithmField.error("\(algorithm) is already rotated at \(first); list each algorithm once")
            }
            guard let everyField = entry["every"] else { throw element.error("a rotation needs \"every\" (such as 7d)") }
            let period = try everyField.durationSeconds()
            guard period > 0 else { throw everyField.error("must be longer than 0s") }
            guard period > prepublishSeconds else {
                throw everyField.error("every (\(DurationText.format(period))) must be longer than prepublish "
                    + "(\(DurationText.format(prepublishSeconds))): a new key is published for prepublish before it signs")
            }
            seen[algorithm] = algorithmField.location
            rotations.append(KeyRotationSchedule(algorithm: algorithm, periodSeconds: period))
        }
    }
}

extension YAMLField {
    /// A JWS algorithm Tessera can sign with (`SigningKeyPolicy.supportedAlgorithms`).
    func signingAlgorithm() throws(PolicyError) -> String {
        let name = try nonEmptyString()
        guard SigningKeyPolicy.supportedAlgorithms.contains(name) else {
            let supported = SigningKeyPolicy.supportedAlgorithms.joined(separator: ", ")
            throw error("unsupported signing algorithm \"\(name)\"; supported: \(supported)")
        }
        return name
    }
}
