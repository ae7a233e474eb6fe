// swift-tools-version:6.2
import Foundation
import PackageDescription

// The libFuzzer targets of Tessera, a package of their own so that the root package builds and
// tests exactly as without them. Build one with
//
//   swift build -c debug --package-path Tests/Fuzz --product fuzz-json -Xswiftc -sanitize=fuzzer,address
//
// or build and run them all with `Tests/Fuzz/run` (README.md, "Fuzzing").
//
// Each fuzzer defines `LLVMFuzzerTestOneInput` and has a `main.swift` that calls libFuzzer's
// driver (`LLVMFuzzerRunDriver`) itself. The usual way, only `LLVMFuzzerTestOneInput` built with
// `-Xswiftc -parse-as-library` so that libFuzzer's runtime brings `main` (swift-protobuf's
// FuzzTesting, on tools version 5.3), does not link with tools version 5.5 and later: SwiftPM
// compiles an executable module's entry point as `<module>_main` (so that tests can link the
// module) and links with `--defsym main=<module>_main`, undefined without a `main.swift`
// ("undefined symbol 'fuzz_json_main'"). With one, the renamed entry point exists and
// becomes `main`, in place of the runtime's (linked whole, which is why
// `LLVMFuzzerTestOneInput` must still exist). So no `-parse-as-library`: it would turn the
// `main.swift` into a library file.

/// A path dependency's identity is the last component of its path: the root package is
/// `tessera` in a clone named so, `wt-fuzz` in a worktree of that name.
let rootIdentity = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // Fuzz
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // the root package
    .lastPathComponent.lowercased()

func tessera(_ product: String) -> Target.Dependency {
    .product(name: product, package: rootIdentity)
}

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tessera-fuzz",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fuzz-json", targets: ["fuzz-json"]),
        .executable(name: "fuzz-jws", targets: ["fuzz-jws"]),
        .executable(name: "fuzz-form", targets: ["fuzz-form"]),
        .executable(name: "fuzz-policy", targets: ["fuzz-policy"]),
        .executable(name: "fuzz-icalendar", targets: ["fuzz-icalendar"]),
    ],
    dependencies: [
        .package(path: "../.."),
    ],
    targets: [
        // What every fuzzer uses: a failed property check that stops the run with its reason.
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], swiftSettings: swiftSettings),
        // The declaration of `LLVMFuzzerRunDriver`; the runtime comes with `-sanitize=fuzzer`.
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "fuzz-json",
            dependencies: ["FuzzSupport", tessera("TesseraJWT")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-jws",
            dependencies: ["FuzzSupport", tessera("TesseraJWT"), tessera("TesseraCrypto")],
            swiftSettings: swiftSettings
        ),
        // The form decoder is compiled from TesseraCore's own files (symbolic links to
        // Sources/TesseraCore/FormParameters.swift and OAuthError.swift, which need only
        // TesseraJWT): depending on TesseraCore would build NIO, AsyncHTTPClient, PostgresNIO and
        // swift-prometheus under the sanitizers first: 551 s against 17 s on this 2-core machine.
        .executableTarget(
            name: "fuzz-form",
            dependencies: ["FuzzSupport", tessera("TesseraJWT")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-policy",
            dependencies: ["FuzzSupport", tessera("TesseraPolicy")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-icalendar",
            dependencies: ["FuzzSupport", tessera("TesseraSchedules")],
            swiftSettings: swiftSettings
        ),
    ]
)
