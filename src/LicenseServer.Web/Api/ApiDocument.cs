using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace LicenseServer.Web.Api;

/// <summary>
/// The client API's OpenAPI document (/api/v1/openapi.json, committed as docs/openapi.json): ASP.NET Core describes
/// the routes and types; this adds what a client developer needs besides: who may call each operation (a bearer
/// token, an API key, or either), every problem it may answer with its codes, and examples.
/// </summary>
public static class ApiDocument
{
    public const string Bearer = "bearer";
    public const string ApiKey = "apiKey";

    private enum Caller { Anyone, Person, Engine, Either }

    private sealed record Operation(Caller Caller, string[] Codes, string? RequestExample = null, string? ResponseExample = null);

    private static readonly string[] JsonBody = ["invalid_request", "body_too_large", "unsupported_media_type"];
    private static readonly string[] Token = ["unauthorized", "token_invalid"];
    private static readonly string[] Key = ["api_key_in_query", "api_key_required", "api_key_invalid", "api_key_revoked", "not_a_member"];
    private static readonly string[] License = ["license_expired", "clock_tampering", "server_not_activated"];

    private const string Lease = "eyJ2IjoxLCJ0eXBlIjoibGVhc2Ui...";

    private static readonly Dictionary<string, Operation> Operations = new()
    {
        ["Login"] = new(Caller.Anyone, [.. JsonBody, "invalid_credentials", "password_change_required", "password_sign_in_off", "directory_no_email",
                "too_many_attempts", "directory_unavailable"],
            """{"email":"ann@example.com","password":"correct horse battery staple"}""",
            """{"token":"kit_t_4f0c2a9e...","expiresAt":"2027-01-04T09:30:00+00:00","email":"ann@example.com","organizations":[{"id":1,"name":"ACME","role":"Member"}]}"""),
        ["SsoToken"] = new(Caller.Anyone, [.. JsonBody, "invalid_grant"],
            """{"code":"Zr3u0cA1...","codeVerifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk","redirectUri":"http://127.0.0.1:51234/callback"}""",
            """{"token":"kit_t_4f0c2a9e...","expiresAt":"2027-01-04T09:30:00+00:00","email":"ann@example.com","organizations":[{"id":1,"name":"ACME","role":"Member"}]}"""),
        ["Logout"] = new(Caller.Person, Token),
        ["Organizations"] = new(Caller.Person, Token, ResponseExample: """[{"id":1,"name":"ACME","role":"Member"}]"""),
        ["MyLicenses"] = new(Caller.Person, Token, ResponseExample: """
            {"licenses":[{"organizationId":1,"organizationName":"ACME","product":"KSE","productName":"Studio Enterprise","assignedAt":"2026-11-02T08:00:00+00:00"}],
             "machines":[{"organizationId":1,"product":"KSE","machineId":"6f1d0c3b8e2a4c59a1b7d2e4f6a8c0b2","activatedAt":"2026-11-02T08:05:00+00:00","lastSeenAt":"2026-12-05T09:30:00+00:00","leaseExpiresAt":"2026-12-12T09:30:00+00:00"}],
             "sessions":[{"organizationId":1,"product":"KRE","machineId":"build-agent-07","processId":"4711","startedAt":"2026-12-05T09:30:00+00:00","expiresAt":"2026-12-05T09:35:00+00:00"}]}
            """),
        ["Activate"] = new(Caller.Person, [.. JsonBody, .. Token, "not_a_member", .. License, "unknown_product", "not_per_user", "not_licensed",
                "machine_disabled", "machine_not_allowed", "machine_limit", "churn_limit"],
            """{"product":"KSE","machineId":"6f1d0c3b8e2a4c59a1b7d2e4f6a8c0b2"}""",
            $$"""{"product":"KSE","machineId":"6f1d0c3b8e2a4c59a1b7d2e4f6a8c0b2","organizationId":1,"expiresAt":"2026-12-12T09:30:00+00:00","lease":"{{Lease}}"}"""),
        ["Deactivate"] = new(Caller.Person, [.. JsonBody, .. Token, "not_a_member", "not_activated"],
            """{"product":"KSE","machineId":"6f1d0c3b8e2a4c59a1b7d2e4f6a8c0b2"}"""),
        ["Checkout"] = new(Caller.Engine, [.. JsonBody, .. Key, .. License, "unknown_product", "not_floating", "not_assigned", "machine_disabled", "machine_not_allowed",
                "machine_limit", "quota_exceeded", "over_allocated", "reserved"],
            """{"product":"KRE","machineId":"build-agent-07","processId":"4711","sessionId":"0b6d3e0c-5d2f-4f7e-9a51-3c2b8f0e6d14"}""",
            $$"""{"sessionId":"0b6d3e0c-5d2f-4f7e-9a51-3c2b8f0e6d14","heartbeatIntervalSeconds":60,"expiresAt":"2026-12-05T09:35:00+00:00","grant":"{{Lease}}"}"""),
        ["Heartbeat"] = new(Caller.Engine, [.. Key, .. License, "session_expired"],
            ResponseExample: $$"""{"sessionId":"0b6d3e0c-5d2f-4f7e-9a51-3c2b8f0e6d14","heartbeatIntervalSeconds":60,"expiresAt":"2026-12-05T09:36:00+00:00","grant":"{{Lease}}"}"""),
        ["Release"] = new(Caller.Engine, [.. Key, "session_not_found"]),
        ["Server"] = new(Caller.Anyone, [],
            ResponseExample: """{"version":"1.0.0","installationId":"inst-7c1e5f","serverPublicKey":"MCowBQYDK2VwAyEA...","vendorLicense":"-----BEGIN KIT LICENSE-----..."}"""),
        ["Plugins"] = new(Caller.Either, [.. Token, .. Key]),
        ["Plugin"] = new(Caller.Either, [.. Token, .. Key, "plugin_not_found"]),
        ["DownloadPlugin"] = new(Caller.Either, [.. Token, .. Key, "plugin_not_found", "plugin_file_missing", "plugin_ambiguous"]),
    };

    public static void Configure(OpenApiOptions options)
    {
        options.AddSchemaTransformer((schema, context, _) =>
        {
            if (context.JsonPropertyInfo is { } property && property.DeclaringType.Namespace == typeof(ApiDocument).Namespace)
                DescribeIdentifier((OpenApiSchema)schema, property.Name);
            return Task.CompletedTask;
        });
        options.AddDocumentTransformer((document, _, _) =>
        {
            Describe(document);
            return Task.CompletedTask;
        });
    }

    /// <summary>The identifiers a request names, as <see cref="ApiJson.Identifier"/> checks them.</summary>
    private static void DescribeIdentifier(OpenApiSchema schema, string property)
    {
        var (max, description) = property switch
        {
            "product" => (32, "The product's code in the server's license, e.g. KSE."),
            "machineId" => (128, "The machine's ID: see the machine-ID algorithm in the client protocol."),
            "processId" => (64, "The client's process, to tell its sessions apart; a string, or a JSON number kept as its digits."),
            _ => (0, null),
        };
        if (description is null) return;
        schema.Description = description;
        schema.MaxLength = max;
        schema.Pattern = "^[A-Za-z0-9._:-]+$";
        schema.Type = property == "processId" ? JsonSchemaType.String | JsonSchemaType.Integer : JsonSchemaType.String;
    }

    private static void Describe(OpenApiDocument document)
    {
        document.Info = new OpenApiInfo
        {
            Title = "Kit License Server client API",
            Version = "v1",
            Description = "What the vendor's applications call: sign in, activate per-user products on a machine, check out floating seats, "
                + "and download plugins. Every refusal is application/problem+json with a stable `code`; docs/client-protocol.md says what a client does about each.",
            License = new OpenApiLicense { Name = "Proprietary", Url = new Uri("https://kit.example/license") },
        };
        // Relative: the document is the same on every server, and a client calls the server it read it from.
        document.Servers = [new OpenApiServer { Url = "/", Description = "The license server that serves this document" }];
        document.Tags = new HashSet<OpenApiTag>
        {
            new() { Name = "Client API", Description = "Sign-in, per-user activations on a machine, and floating sessions." },
            new() { Name = "Plugins", Description = "The plugin repository: the plugins a caller may see, and their packages." },
        };
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            [Bearer] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http, Scheme = "bearer",
                Description = "A person's token from POST /api/v1/auth/login, valid for 30 days unless revoked.",
            },
            [ApiKey] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = ClientApi.ApiKeyHeader,
                Description = "An organization's API key, made in the console, for runtime engines. Never in the URL.",
            },
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas["Problem"] = ProblemSchema();

        foreach (var path in document.Paths.Values)
            foreach (var operation in path.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
                if (operation.OperationId is { } id && Operations.TryGetValue(id, out var described))
                    Describe(document, operation, described);
    }

    private static void Describe(OpenApiDocument document, OpenApiOperation operation, Operation described)
    {
        operation.Security = described.Caller switch
        {
            Caller.Anyone => [],
            Caller.Person => [Requirement(document, Bearer)],
            Caller.Engine => [Requirement(document, ApiKey)],
            _ => [Requirement(document, Bearer), Requirement(document, ApiKey)],
        };
        if (described.RequestExample is { } request && operation.RequestBody?.Content?.TryGetValue("application/json", out var body) == true)
            body.Example = JsonNode.Parse(request);
        if (described.ResponseExample is { } answer)
            foreach (var response in operation.Responses?.Values ?? Enumerable.Empty<IOpenApiResponse>())
                if (response.Content?.TryGetValue("application/json", out var content) == true) content.Example = JsonNode.Parse(answer);

        operation.Responses ??= new OpenApiResponses();
        // Every operation refuses a query string that holds a NUL, and may meet a database that does not answer.
        foreach (var byStatus in described.Codes.Prepend("invalid_request").Append("database_unavailable").Distinct().Select(ApiProblemCodes.Of).GroupBy(c => c.Status).OrderBy(g => g.Key))
        {
            var examples = byStatus.ToDictionary(c => c.Name, c => (IOpenApiExample)new OpenApiExample
            {
                Summary = c.ClientAction,
                Value = new JsonObject
                {
                    ["type"] = $"https://kit.example/problems/{c.Name}",
                    ["title"] = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(c.Status),
                    ["status"] = c.Status,
                    ["detail"] = "A sentence for people; it may change, the code does not.",
                    ["code"] = c.Name,
                },
            });
            operation.Responses[byStatus.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new OpenApiResponse
            {
                Description = "Refused: " + string.Join(", ", byStatus.Select(c => c.Name)) + ".",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference("Problem", document), Examples = examples },
                },
            };
        }
    }

    private static OpenApiSecurityRequirement Requirement(OpenApiDocument document, string scheme) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = [] };

    private static OpenApiSchema ProblemSchema() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "RFC 9457 problem details with the code a client acts on.",
        Required = new HashSet<string> { "type", "title", "status", "detail", "code" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A URI naming the problem: https://kit.example/problems/ and the code." },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The HTTP status's reason phrase." },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The HTTP status." },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A sentence for people, in English; its words may change." },
            ["code"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Description = "What went wrong, for programs: stable across versions.",
                Enum = ApiProblemCodes.All.Select(c => (JsonNode)JsonValue.Create(c.Name)).ToList(),
            },
        },
    };
}
