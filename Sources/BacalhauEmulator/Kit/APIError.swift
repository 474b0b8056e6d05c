/// An error answer in Bacalhau's shape (pkg/publicapi/apimodels/error.go):
/// `{"Status","Message","RequestID","Code","Component","Hint"?,"Details"?}`.
struct APIError: Error, Sendable {
    var status: Int
    var message: String
    var code: String
    var component: String
    var hint: String?
    var details: [(String, String)] = []
    /// A body of another shape (the version check's `{"Error": …}`).
    var customBody: JSON?

    init(status: Int, message: String, code: String, component: String = "APIServer", hint: String? = nil,
         details: [(String, String)] = [])
    {
        self.status = status
        self.message = message
        self.code = code
        self.component = component
        self.hint = hint
        self.details = details
    }

    /// The body; `RequestID` echoes only an ID the client itself sent.
    func body(clientRequestID: String?) -> JSON {
        if let customBody { return customBody }
        var pairs: [(String, JSON)] = [
            ("Status", .int(Int64(status))), ("Message", .str(message)), ("RequestID", .str(clientRequestID ?? "")),
            ("Code", .str(code)), ("Component", .str(component)),
        ]
        if let hint { pairs.append(("Hint", .str(hint))) }
        if !details.isEmpty { pairs.append(("Details", .object(details.map { ($0.0, .str($0.1)) }))) }
        return .object(pairs)
    }

    // MARK: - The errors Bacalhau answers with

    /// A bind or ValidateSubmission failure: 400, but `Code: InternalError` (API.md §2).
    static func bind(_ message: String) -> APIError {
        APIError(status: 400, message: message, code: "InternalError", component: "APIServer")
    }

    /// Store-time validation (full `Job.Validate()`): 400 `BadRequest` from the JobStore.
    static func store(_ message: String) -> APIError {
        APIError(status: 400, message: message, code: "BadRequest", component: "JobStore")
    }

    static func notFound(_ message: String, component: String = "JobStore") -> APIError {
        APIError(status: 404, message: message, code: "NotFound", component: component)
    }

    static func unknownRoute(_ method: String, _ path: String) -> APIError {
        APIError(status: 404, message: "route not found: \(method) \(path)", code: "NotFound", component: "APIServer",
                 hint: "the server may be older than the client and lack this endpoint")
    }

    /// A plain Go error: 500 with no code (the text only shows in debug mode; the emulator shows it).
    static func plain(_ message: String) -> APIError {
        APIError(status: 500, message: message, code: "", component: "Orchestrator")
    }

    static let internalServerError = APIError(status: 500, message: "Internal server error", code: "InternalError",
                                              component: "APIServer")

    static func unauthorized(_ message: String) -> APIError {
        APIError(status: 401, message: message, code: "Unauthorized", component: "Auth")
    }

    static func forbidden(_ message: String) -> APIError {
        APIError(status: 403, message: "user is not authorized to perform this action", code: "Forbidden",
                 component: "Auth", details: [("reason", message)])
    }

    static let rateLimited = APIError(status: 429, message: "rate limit exceeded", code: "ResourceExhausted",
                                      component: "APIServer")
    static let unavailable = APIError(status: 503, message: "service unavailable", code: "ServiceUnavailable",
                                      component: "APIServer")

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(status: 413, message: "request body too large (limit \(limit / 1_048_576) MB)",
                 code: "RequestEntityTooLarge", component: "APIServer")
    }
}
