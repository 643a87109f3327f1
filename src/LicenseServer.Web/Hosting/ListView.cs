using LicenseServer.Data.Database;
using Microsoft.AspNetCore.WebUtilities;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// One list of a console page. Its page, sort and search are in the address ({key}-page, {key}-sort, {key}-q),
/// so that a link can be kept, shared and reloaded; the links it makes change one of them and keep the rest of
/// the address, the other lists' state included. No script is needed.
/// </summary>
public sealed class ListView
{
    private readonly HttpRequest _request;

    public ListView(HttpRequest request, string key, string label)
    {
        _request = request;
        Key = key;
        Label = label;
        var page = int.TryParse(request.Query[PageParameter], out var p) ? p : 1;
        Query = new ListQuery(Math.Max(1, page), Value(SortParameter), Value(SearchParameter) is { } q ? q[..Math.Min(q.Length, ListQuery.MaxSearchLength)] : null);
    }

    public string Key { get; }

    /// <summary>What the list holds, in words ("sessions"), for its search box and pager.</summary>
    public string Label { get; }

    public ListQuery Query { get; }
    public long Total { get; private set; }
    public int Page { get; private set; } = 1;
    public int Pages { get; private set; } = 1;
    public string Sort { get; private set; } = "";

    public string PageParameter => Key + "-page";
    public string SortParameter => Key + "-sort";
    public string SearchParameter => Key + "-q";

    /// <summary>Takes the page the database read: its total, the page and the sort actually used.</summary>
    public ListPage<T> Showing<T>(ListPage<T> page)
    {
        (Total, Page, Pages, Sort) = (page.Total, page.Page, page.Pages, page.Sort);
        return page;
    }

    public string PageLink(int page) => Link((PageParameter, page == 1 ? null : page.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Sorts by a column, ascending first and descending when it already sorts ascending; back to the first page.</summary>
    public string SortLink(string column) => Link((SortParameter, Sort == column ? "-" + column : column), (PageParameter, null));

    public string? AriaSort(string column) => Sort == column ? "ascending" : Sort == "-" + column ? "descending" : null;

    /// <summary>The address's other values, which the list's search form sends along as hidden fields.</summary>
    public IEnumerable<KeyValuePair<string, string>> KeptFields =>
        _request.Query.Where(q => q.Key != "handler" && q.Key != SearchParameter && q.Key != PageParameter)
            .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? "")));

    private string? Value(string name) => _request.Query[name].FirstOrDefault() is { Length: > 0 } v ? v : null;

    private string Link(params (string Name, string? Value)[] changes)
    {
        var values = _request.Query.Where(q => q.Key != "handler").ToDictionary(q => q.Key, q => (string?)q.Value.FirstOrDefault());
        foreach (var (name, value) in changes) values[name] = value;
        return QueryHelpers.AddQueryString(_request.PathBase + _request.Path, values.Where(v => v.Value is not null));
    }
}
