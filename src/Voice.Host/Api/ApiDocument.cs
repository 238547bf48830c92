using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Voice.Host.Api;

/// <summary>The OpenAPI document's title and description, and the two ways of presenting an API key.</summary>
internal sealed class ApiDocument : IOpenApiDocumentTransformer
{
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "VoiceBridge",
            Version = "1",
            Description = "Place announce calls through drachtio-server and FreeSWITCH, follow them, and receive signed webhooks. " +
                "Compatible with the original voice-app API; errors are application/problem+json that also carry success:false, error and message.",
        };
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            ["bearer"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.Http, Scheme = "bearer", Description = "Authorization: Bearer <API key>" },
            ["apiKey"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "X-API-Key", Description = "X-API-Key: <API key>" },
        };
        document.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("apiKey", document)] = [] },
        ];
        return Task.CompletedTask;
    }
}
