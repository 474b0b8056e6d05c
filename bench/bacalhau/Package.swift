// swift-tools-version: 6.1
// The Bacalhau submission benchmark: a separate package (never a timed test) that builds the
// `bacalhau` plugin's client from Sources/Plugins/Bacalhau (linked in as BacalhauClient) and
// drives it against a loopback server. See bench/bacalhau/README.md and docs/BACALHAU.md.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, whatever the checkout is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().standardizedFileURL
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "BacalhauBench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: root.path),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
    ],
    targets: [
        .target(
            name: "BacalhauClient",
            dependencies: [
                .product(name: "Engine", package: rootIdentity),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/BacalhauClient"
        ),
        .executableTarget(
            name: "bacalhau-bench",
            dependencies: ["BacalhauClient", .product(name: "Engine", package: rootIdentity)],
            path: "Sources/bacalhau-bench"
        ),
    ]
)
