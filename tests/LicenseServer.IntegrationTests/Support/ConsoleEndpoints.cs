using System.Reflection;
using LicenseServer.Core.Organizations;
using LicenseServer.IntegrationTests.Support;
using LicenseServer.Web.Organizations;
using Microsoft.AspNetCore.Mvc.ApplicationModels;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.Mvc.RazorPages.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace LicenseServer.IntegrationTests.Support;

/// <summary>One parameter a page handler binds: its name and type, as the handler declares them.</summary>
public sealed record HandlerParameter(string Name, Type Type);

/// <summary>
/// One handler of one Razor Page, found in the running server's endpoint data source, so that a page or
/// handler added later is covered by the tests that walk them without anyone listing it.
/// </summary>
public sealed record ConsoleHandler(string Route, string HttpMethod, string? Name, MethodInfo Method, Type ModelType, IReadOnlyList<HandlerParameter> Parameters)
{
    public bool IsPost => HttpMethod == "POST";
    public bool IsOrganizationPage => Route.StartsWith("/Organizations/{orgId", StringComparison.Ordinal);
    public bool IsAdminPage => Route.StartsWith("/Admin/", StringComparison.Ordinal);

    /// <summary>The permission the handler names with [Requires], if any.</summary>
    public OrgPermission? Requires => Method.GetCustomAttribute<RequiresAttribute>()?.Permission;

    /// <summary>The address of this handler with the route's values filled in, e.g. /Organizations/3/Teams/7?handler=Rename.</summary>
    public string Url(IReadOnlyDictionary<string, string> routeValues, string? query = null)
    {
        var path = System.Text.RegularExpressions.Regex.Replace(Route, @"\{(\w+)(:[^}]*)?\}", m =>
            routeValues.TryGetValue(m.Groups[1].Value, out var value) ? value : throw new AssertionException($"no value for {{{m.Groups[1].Value}}} in {Route}"));
        var parts = new List<string>();
        if (Name is not null) parts.Add("handler=" + Name);
        if (query is { Length: > 0 }) parts.Add(query);
        return parts.Count == 0 ? path : path + "?" + string.Join('&', parts);
    }

    public override string ToString() => $"{HttpMethod} {Route}{(Name is null ? "" : "?handler=" + Name)}";
}

public static class ConsoleEndpoints
{
    /// <summary>Every handler of every page the server maps, each page once (at its shortest route).</summary>
    public static async Task<IReadOnlyList<ConsoleHandler>> AllAsync(TestServer server)
    {
        var loader = server.Service<PageLoader>();
        var endpoints = ((IEndpointRouteBuilder)server.App).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>();
        var pages = endpoints
            .Select(e => (Endpoint: e, Descriptor: e.Metadata.GetMetadata<PageActionDescriptor>()))
            .Where(p => p.Descriptor is not null)
            .GroupBy(p => p.Descriptor!.Id)
            .Select(g => g.OrderBy(p => p.Endpoint.RoutePattern.RawText!.Length).First());
        var handlers = new List<ConsoleHandler>();
        foreach (var (endpoint, descriptor) in pages)
        {
            var compiled = await loader.LoadAsync(descriptor!, endpoint.Metadata);
            var route = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            foreach (var handler in compiled.HandlerMethods)
            {
                var parameters = handler.Parameters.Select(p => new HandlerParameter(p.Name, p.ParameterType)).ToList();
                handlers.Add(new ConsoleHandler(route, handler.HttpMethod.ToUpperInvariant(), handler.Name, handler.MethodInfo, compiled.ModelTypeInfo!.AsType(), parameters));
            }
        }
        Assert.That(handlers.Count(h => h.IsPost), Is.GreaterThan(40), "the walk finds the console's POST handlers");
        return handlers;
    }

    /// <summary>Whether the page's model opts out of antiforgery validation (only the error page may).</summary>
    public static bool IgnoresAntiforgery(ConsoleHandler handler) =>
        handler.ModelType.GetCustomAttributes(true).Any(a => a.GetType().Name == "IgnoreAntiforgeryTokenAttribute");
}
