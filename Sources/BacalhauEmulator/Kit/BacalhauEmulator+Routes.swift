import Foundation
import Hummingbird
import NIOCore

/// The routes of pkg/publicapi/endpoint/orchestrator/endpoint.go and the agent endpoints.
extension BacalhauEmulator {
    typealias Handler = @Sendable (Request, EmulatorContext) async throws -> Response

    func addRoutes(to router: Router<EmulatorContext>) {
        let api = "/api/v1/orchestrator"
        router.put("\(api)/jobs") { request, _ in try await self.submit(request) }
        router.post("\(api)/jobs") { request, _ in try await self.submit(request) }
        router.get("\(api)/jobs") { request, _ in try await self.list(request) }
        router.put("\(api)/jobs/diff") { request, _ in try await self.diff(request) }
        router.get("\(api)/jobs/:id") { request, context in try await self.get(request, try Self.id(context)) }
        router.delete("\(api)/jobs/:id") { request, context in try await self.stop(request, try Self.id(context)) }
        router.get("\(api)/jobs/:id/executions") { request, context in
            try await self.executions(request, try Self.id(context))
        }
        router.get("\(api)/jobs/:id/history") { request, context in try await self.history(request, try Self.id(context)) }
        router.get("\(api)/jobs/:id/results") { request, context in try await self.results(request, try Self.id(context)) }
        router.get("\(api)/jobs/:id/logs") { request, _ in self.logs(request) }
        router.put("\(api)/jobs/:id/rerun") { request, context in try await self.rerun(request, try Self.id(context)) }
        router.get("\(api)/jobs/:id/versions") { request, context in
            try await self.versions(request, try Self.id(context))
        }
        router.get("/api/v1/agent/alive") { _, _ in EmulatorResponses.json(.obj(("Status", .str("OK")))) }
        router.get("/api/v1/agent/version") { _, _ in
            EmulatorResponses.json(.obj(("Major", .str("1")), ("Minor", .str("9")),
                                        ("GitVersion", .str(EmulatorResponses.serverVersion)),
                                        ("GitCommit", .str("emulator")), ("BuildDate", .str("")),
                                        ("GOOS", .str("linux")), ("GOARCH", .str("amd64"))))
        }
        router.get("/api/v1/agent/authconfig") { _, _ in
            let methods: [JSON] = self.configuration.auth.isEmpty ? [] : [.str("apikey"), .str("basic")]
            return EmulatorResponses.json(.obj(("Mode", .str(EmulatorAuth.mode(of: self.configuration.auth))),
                                               ("Methods", .array(methods))))
        }
        router.get("/api/v1/emulator/stats") { _, _ in
            EmulatorResponses.json(.object(await self.stats().map { ($0.0, .int(Int64($0.1))) }))
        }
    }

    static func id(_ context: EmulatorContext) throws(APIError) -> String {
        guard let raw = context.parameters.get("id") else { throw APIError.bind("missing job id") }
        return raw.removingPercentEncoding ?? raw
    }

    // MARK: - Request helpers

    static func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[name[...]].map(String.init)
    }

    static func namespace(_ request: Request) -> String {
        let given = query(request, "namespace") ?? ""
        return given.isEmpty ? "default" : given
    }

    static func bool(_ request: Request, _ name: String) throws(APIError) -> Bool {
        guard let text = query(request, name), !text.isEmpty else { return false }
        switch text.lowercased() {
        case "true", "1", "t": return true
        case "false", "0", "f": return false
        default: throw APIError.bind("invalid value for \(name): \(text)")
        }
    }

    static func int(_ request: Request, _ name: String) throws(APIError) -> Int64? {
        guard let text = query(request, name), !text.isEmpty else { return nil }
        guard let value = Int64(text) else { throw APIError.bind("invalid value for \(name): \(text)") }
        return value
    }

    /// The JSON body; a non-empty body must say `Content-Type: application/json` (echo's
    /// binder answers 415 otherwise, which the handlers turn into 400).
    func body(_ request: Request) async throws -> JSON? {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: 10 * 1024 * 1024)
        } catch {
            throw APIError.tooLarge(10 * 1024 * 1024)
        }
        guard buffer.readableBytes > 0 else { return nil }
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/json") else {
            throw APIError.bind("code=415, message=Unsupported Media Type")
        }
        do {
            return try JSON.parse(buffer.readableBytesView)
        } catch {
            throw APIError.bind("Syntax error: offset=\(error.offset), error=\(error.message)")
        }
    }

    static func page<T>(_ items: [T], _ request: Request) throws(APIError) -> ([T], String) {
        var offset = 0
        if let token = query(request, "next_token"), !token.isEmpty {
            guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
                  text.hasPrefix("offset:"), let value = Int(text.dropFirst(7)), value >= 0
            else { throw APIError.bind("invalid next_token: \(token)") }
            offset = value
        }
        let limit = try int(request, "limit").map { Int($0) } ?? 0
        guard offset < items.count else { return ([], "") }
        let end = limit > 0 ? min(items.count, offset + limit) : items.count
        let next = end < items.count ? Data("offset:\(end)".utf8).base64EncodedString() : ""
        return (Array(items[offset..<end]), next)
    }

    // MARK: - Handlers

    func submit(_ request: Request) async throws -> Response {
        counters.update { $0.submissions += 1 }
        let (job, force) = try SubmissionRules.bindRequest(try await body(request) ?? .null)
        let prepared = try SubmissionRules.prepare(job)
        let submitted = try await store.submit(prepared, force: force)
        if submitted.isUpdate { runner.cancel(jobID: submitted.jobID) }
        runner.schedule(jobID: submitted.jobID, version: submitted.version)
        let warnings: JSON = submitted.warnings.isEmpty ? .null : .array(submitted.warnings.map(JSON.str))
        return EmulatorResponses.json(.obj(("JobID", .str(submitted.jobID)), ("EvaluationID", .str(submitted.evaluationID)),
                                           ("Warnings", warnings)))
    }

    func get(_ request: Request, _ id: String) async throws -> Response {
        let job = try await store.find(id, namespace: Self.namespace(request))
        let include = Set((Self.query(request, "include") ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        })
        let version = try Self.int(request, "job_version").flatMap { $0 > 0 ? $0 : nil } ?? job.version
        var pairs: [(String, JSON)] = [("Job", job.jobJSON(version: version))]
        if include.contains("history") {
            let items = job.history.filter { $0.jobVersion == version }.map(\.json)
            pairs.append(("History", .obj(("Items", .array(items)), ("NextToken", .str("")))))
        }
        if include.contains("executions") {
            let items = job.executions.filter { $0.jobVersion == version }.map(\.json)
            pairs.append(("Executions", .obj(("Items", .array(items)), ("NextToken", .str("")))))
        }
        return EmulatorResponses.json(.object(pairs))
    }

    func list(_ request: Request) async throws -> Response {
        var selectors: [LabelSelector] = []
        for text in request.uri.queryParameters[values: "labels"] {
            guard let parsed = LabelSelector.parse(String(text)) else {
                throw APIError.bind("invalid label selector: \(text)")
            }
            selectors += parsed
        }
        let orderBy = Self.query(request, "order_by") ?? ""
        guard ["", "created_at", "modified_at"].contains(orderBy) else {
            throw APIError.bind("invalid order_by field: \(orderBy)")
        }
        let jobs = await store.list(namespace: Self.namespace(request), selectors: selectors, orderBy: orderBy,
                                    reverse: try Self.bool(request, "reverse"))
        let (page, next) = try Self.page(jobs, request)
        return EmulatorResponses.json(.obj(("Items", .array(page.map { $0.jobJSON() })), ("NextToken", .str(next))))
    }

    func executions(_ request: Request, _ id: String) async throws -> Response {
        let job = try await store.find(id, namespace: Self.namespace(request))
        let orderBy = Self.query(request, "order_by") ?? ""
        guard ["", "created_at", "modified_at"].contains(orderBy) else {
            throw APIError.bind("invalid order_by field: \(orderBy)")
        }
        var items = job.executions
        if !(try Self.bool(request, "all_job_versions")) {
            let version = try Self.int(request, "job_version").flatMap { $0 > 0 ? $0 : nil } ?? job.version
            items = items.filter { $0.jobVersion == version }
        }
        if orderBy == "modified_at" { items.sort { $0.modifyTime < $1.modifyTime } }
        if try Self.bool(request, "reverse") { items.reverse() }
        if let limit = try Self.int(request, "limit"), limit > 0 { items = Array(items.prefix(Int(limit))) }
        return EmulatorResponses.json(.obj(("Items", .array(items.map(\.json))), ("NextToken", .str(""))))
    }

    func history(_ request: Request, _ id: String) async throws -> Response {
        let job = try await store.find(id, namespace: Self.namespace(request))
        let eventType = (Self.query(request, "event_type") ?? "all").lowercased()
        guard ["all", "job", "execution", ""].contains(eventType) else {
            throw APIError.bind("invalid event type: \(eventType)")
        }
        var items = job.history
        if !(try Self.bool(request, "all_job_versions")) {
            let version = try Self.int(request, "job_version").flatMap { $0 > 0 ? $0 : nil } ?? job.version
            items = items.filter { $0.jobVersion == version }
        }
        if eventType == "job" { items = items.filter { $0.type == "JobLevel" } }
        if eventType == "execution" { items = items.filter { $0.type == "ExecutionLevel" } }
        if let execution = Self.query(request, "execution_id"), !execution.isEmpty {
            items = items.filter { $0.executionID == execution }
        }
        if let since = Self.query(request, "since"), !since.isEmpty {
            guard let seconds = Int64(since) else { throw APIError.bind("invalid since: \(since)") }
            items = items.filter { $0.time >= seconds * 1_000_000_000 }
        }
        let (page, next) = try Self.page(items, request)
        return EmulatorResponses.json(.obj(("Items", .array(page.map(\.json))), ("NextToken", .str(next))))
    }

    func results(_ request: Request, _ id: String) async throws -> Response {
        let job = try await store.find(id, namespace: Self.namespace(request))
        guard job.type == "batch" || job.type == "ops" else {
            throw APIError.internalServerError  // "job type X does not support results", hidden outside debug mode
        }
        let items = job.executions.filter {
            $0.jobVersion == job.version && $0.computeState == ExecutionState.completed && !$0.publishedResult.isNull
        }.map(\.publishedResult)
        return EmulatorResponses.json(.obj(("Items", .array(items)), ("NextToken", .str(""))))
    }

    func logs(_ request: Request) -> Response {
        let upgrade = request.headers[.upgrade]?.lowercased() ?? ""
        if upgrade == "websocket" {
            return EmulatorResponses.error(
                APIError(status: 501, message: "the emulator does not stream logs; read RunOutput from the executions",
                         code: "NotImplemented"), clientRequestID: nil)
        }
        return EmulatorResponses.error(APIError.bind("websocket: the client is not using the websocket protocol"),
                                       clientRequestID: nil)
    }

    func stop(_ request: Request, _ id: String) async throws -> Response {
        var reason = ""
        if let body = try await body(request) {
            guard case .object = body else { throw APIError.bind("Unmarshal type error: expected=object, got=\(body.typeName)") }
            switch body["reason"] {
            case nil, .null?: break
            case .string(let s)?: reason = s
            case let other?: throw APIError.bind("Unmarshal type error: expected=string, got=\(other.typeName), field=reason")
            }
        }
        let stopped = try await store.stop(id, namespace: Self.namespace(request), reason: reason)
        if !stopped.evaluationID.isEmpty { runner.cancel(jobID: stopped.jobID) }
        return EmulatorResponses.json(.obj(("EvaluationID", .str(stopped.evaluationID))))
    }

    func rerun(_ request: Request, _ id: String) async throws -> Response {
        let body = try await body(request)
        let reason = body?["Reason"]?.string ?? ""
        let submitted = try await store.rerun(id, namespace: Self.namespace(request), reason: reason)
        runner.cancel(jobID: submitted.jobID)
        runner.schedule(jobID: submitted.jobID, version: submitted.version)
        return EmulatorResponses.json(.obj(("JobID", .str(submitted.jobID)), ("JobVersion", .int(submitted.version)),
                                           ("EvaluationID", .str(submitted.evaluationID)), ("Warnings", .null)))
    }

    func versions(_ request: Request, _ id: String) async throws -> Response {
        let job = try await store.find(id, namespace: Self.namespace(request))
        let items = (1...max(1, job.version)).map { job.jobJSON(version: $0) }
        let (page, next) = try Self.page(items, request)
        return EmulatorResponses.json(.obj(("Items", .array(page)), ("NextToken", .str(next))))
    }

    func diff(_ request: Request) async throws -> Response {
        let (job, _) = try SubmissionRules.bindRequest(try await body(request) ?? .null)
        let prepared = try SubmissionRules.prepare(job)
        guard !prepared.name.isEmpty else { throw APIError.bind("job name is required to diff") }
        let existing = try await store.find(prepared.name, namespace: prepared.namespace)
        let old = SubmissionRules.comparable(existing.spec), new = SubmissionRules.comparable(prepared.spec)
        let diff = old == new ? "" : "- \(old)\n+ \(new)\n"
        let warnings: JSON = prepared.warnings.isEmpty ? .null : .array(prepared.warnings.map(JSON.str))
        return EmulatorResponses.json(.obj(("Diff", .str(diff)), ("Warnings", warnings)))
    }
}
