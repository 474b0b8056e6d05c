// swift-tools-version: 6.1
import PackageDescription

/// The commit `hypha --version` names: scripts/package.sh sets HYPHA_COMMIT for its build; a plain
/// `swift build` says "unknown".
let buildCommit = Context.environment["HYPHA_COMMIT"]

let package = Package(
    name: "Hypha",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hypha", targets: ["hypha"]),
        .executable(name: "bacalhau-emulator", targets: ["BacalhauEmulator"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "HyphaArrow", targets: ["HyphaArrow"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // The bacalhau plugin's HTTP client (docs/BACALHAU.md, "HTTP"); swift-nio and
        // swift-nio-ssl come with it and are named only to read its errors.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        // SHA-256 for http-download; already built for AsyncHTTPClient's certificate handling.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // Comes with Hummingbird; the emulator names it to stop its server gracefully.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        // Comes with Hummingbird; the arrow-http source names its HTTP field and status types.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // Comes with Hummingbird; the servers' connection guard names its HTTP part types.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        // Durable state (SQLite, the system's libsqlite3).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // The observability endpoint's /metrics (docs/OBSERVE.md).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The Arrow IPC codec: no dependencies, usable on its own.
        .target(name: "HyphaArrow", path: "Sources/Arrow", exclude: ["API.md"]),
        // Workflow model, loading, validation, DAG, channels, runtime, plugin API.
        .target(
            name: "Engine",
            dependencies: [
                "HyphaArrow",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The plugins that need only the Engine and the Arrow codec: file-watch, arrow-decode,
        // template, process, capture. Their tests build without NIO.
        .target(
            name: "CorePlugins",
            dependencies: [
                "Engine", "HyphaArrow",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Plugins/Core"
        ),
        // The bacalhau executor and its HTTP client (AsyncHTTPClient; NIO and NIOSSL named to
        // read its errors).
        .target(
            name: "Bacalhau",
            dependencies: [
                "Engine",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/Plugins/Bacalhau"
        ),
        // The limits both HTTP servers put on connections (timeouts, closing after a refusal, a
        // connection limit, the Host check): the arrow-http source and the observability endpoint.
        .target(
            name: "HTTPServing",
            dependencies: [
                "Engine",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        // Arrow over HTTP: the arrow-http source (Hummingbird) and arrow-http-sink
        // (AsyncHTTPClient, the client the bacalhau plugin uses).
        .target(
            name: "ArrowHTTP",
            dependencies: [
                "Engine", "HyphaArrow", "HTTPServing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                // HTTPS for the source (tls_cert, tls_key) and a private CA for the client (ca).
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/Plugins/ArrowHTTP"
        ),
        // The http-download source (AsyncHTTPClient, the client the bacalhau plugin uses).
        .target(
            name: "HTTPDownload",
            dependencies: [
                "Engine", "HyphaArrow",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Plugins/HTTPDownload"
        ),
        // Durable state: source checkpoints, the job journal, dead letters (GRDB over SQLite).
        .target(
            name: "HyphaState",
            dependencies: ["Engine", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Sources/State"
        ),
        // The observability endpoint: /metrics, the JSON API, server-sent events and the web view
        // of a running workflow (docs/OBSERVE.md).
        .target(
            name: "Observe",
            dependencies: [
                "Engine", "HTTPServing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The version (the VERSION file) and the commit hypha was built from.
        .target(name: "BuildInfo", cSettings: buildCommit.map { [.define("HYPHA_COMMIT", to: "\"\($0)\"")] } ?? []),
        .executableTarget(
            name: "hypha",
            dependencies: [
                "Engine", "HyphaArrow", "HyphaState", "CorePlugins", "Bacalhau", "ArrowHTTP", "HTTPDownload", "Observe", "BuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // A Bacalhau orchestrator emulator for tests; never part of the shipped CLI.
        // The server is a library (tests run it in-process); the executable is a thin main.
        .target(
            name: "BacalhauEmulatorKit",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/BacalhauEmulator/Kit"
        ),
        .executableTarget(
            name: "BacalhauEmulator",
            dependencies: ["BacalhauEmulatorKit"],
            path: "Sources/BacalhauEmulator/Main"
        ),
        .testTarget(name: "ArrowTests", dependencies: ["HyphaArrow"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "HyphaArrow", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "CorePluginsTests", dependencies: ["CorePlugins", "Engine", "HyphaArrow"]),
        .testTarget(name: "CLITests", dependencies: ["HyphaArrow"]),
        .testTarget(name: "ObserveTests", dependencies: ["Observe", "HTTPServing", "Engine", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "HTTPDownloadTests", dependencies: ["HTTPDownload", "Engine"]),
        .testTarget(name: "BacalhauTests", dependencies: ["Bacalhau", "CorePlugins", "Engine", "BacalhauEmulatorKit"]),
    ]
)
