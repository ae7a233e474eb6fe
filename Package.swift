// swift-tools-version:6.2
import PackageDescription

/// One set of settings for every target (STYLE.md): Swift 6 strict concurrency comes with the
/// language mode; `ExistentialAny` keeps existential costs visible.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tessera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
        .executable(name: "tessera-bench", targets: ["tessera-bench"]),
        // For the fuzzers (Tests/Fuzz, a package of its own that depends on this one by path):
        // another package can only use a target through a product.
        .library(name: "TesseraJWT", targets: ["TesseraJWT"]),
        .library(name: "TesseraCrypto", targets: ["TesseraCrypto"]),
        .library(name: "TesseraPolicy", targets: ["TesseraPolicy"]),
        .library(name: "TesseraSchedules", targets: ["TesseraSchedules"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The platform's OpenSSL 3 libcrypto; imported by TesseraCrypto only.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // The platform's SQLite 3; imported by TesseraStore only (one copy of SQLite in the
        // process: two would not see each other's file locks).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "TesseraCrypto",
            dependencies: ["COpenSSL"],
            swiftSettings: swiftSettings
        ),
        // Exact (byte-for-byte) comparison of identifiers; no dependencies.
        .target(
            name: "TesseraText",
            swiftSettings: swiftSettings
        ),
        // On-call schedules (layers, rotations, escalation levels) and an RFC 5545 subset
        // parser; pure (no I/O, time passed in), Foundation only.
        .target(
            name: "TesseraSchedules",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TesseraJWT",
            dependencies: ["TesseraCrypto", "TesseraText"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TesseraPolicy",
            dependencies: ["TesseraText", "TesseraSchedules", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TesseraStore",
            dependencies: [
                "CSQLite",
                // The thread each SQLite connection runs its statements on.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The behaviour every store backend must have, as plain throwing checks: each backend's
        // tests run all of them (dex `storage/conformance`).
        .target(
            name: "TesseraStoreConformance",
            dependencies: ["TesseraStore"],
            swiftSettings: swiftSettings
        ),
        // Test support: a logger that writes to the current test's log file, so a test run prints
        // only its results (`.ci/run` shows the logs of the tests that failed), and running the
        // programs tests talk to (peers, the tessera executable).
        .target(
            name: "TesseraTestLogging",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TesseraCore",
            dependencies: [
                "TesseraCrypto", "TesseraJWT", "TesseraPolicy", "TesseraSchedules", "TesseraStore", "TesseraText",
                .product(name: "Logging", package: "swift-log"),
                // Upstream JWKS fetching (DESIGN.md: NIO-native, timeouts, connection pooling).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // GET /metrics in the Prometheus text format.
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TesseraServer",
            dependencies: [
                "TesseraCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                // The event loops as Swift concurrency's executor (ServerRuntime).
                .product(name: "NIOPosix", package: "swift-nio"),
                // The HTTP/1 pipeline the fast path of the well-known documents joins.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tessera",
            dependencies: [
                "TesseraServer", "TesseraCore", "TesseraStore", "TesseraJWT", "TesseraPolicy", "TesseraSchedules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // The client commands talk HTTP to a server (and verify fetches JWKS).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tessera-bench",
            dependencies: [
                "TesseraServer", "TesseraCore", "TesseraJWT", "TesseraCrypto", "TesseraStore", "TesseraPolicy", "TesseraSchedules",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraTextTests",
            dependencies: ["TesseraText"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraCryptoTests",
            dependencies: ["TesseraCrypto"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraJWTTests",
            dependencies: ["TesseraJWT", "TesseraCrypto"],
            // Project Wycheproof's signature vectors (Apache 2.0), copied unchanged.
            resources: [.copy("Resources/wycheproof")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraSchedulesTests",
            dependencies: ["TesseraSchedules", "TesseraTestLogging"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraPolicyTests",
            dependencies: ["TesseraPolicy"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraStoreTests",
            // PostgresNIO: the PostgreSQL tests create and drop a database per check.
            dependencies: ["TesseraStore", "TesseraStoreConformance", "TesseraTestLogging", .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraCoreTests",
            dependencies: [
                "TesseraCore", "TesseraCrypto", "TesseraJWT", "TesseraPolicy", "TesseraSchedules", "TesseraTestLogging",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraServerTests",
            dependencies: [
                "TesseraServer", "TesseraCore", "TesseraCrypto", "TesseraJWT", "TesseraPolicy", "TesseraStore", "TesseraTestLogging",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
