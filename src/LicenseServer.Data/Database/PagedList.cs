using Dapper;
using LicenseServer.Data.Accounts;
using Npgsql;

namespace LicenseServer.Data.Database;

/// <summary>
/// What a console list shows: a page (from 1), a sort ("email", or "-email" for descending: a key the list
/// itself declares) and a search text.
/// </summary>
public sealed record ListQuery(int Page = 1, string? Sort = null, string? Search = null)
{
    public const int PageSize = 50;
    public const int MaxSearchLength = 200;
}

/// <summary>One page of a list, with the total the search matches and the page and sort actually used.</summary>
public sealed record ListPage<T>(IReadOnlyList<T> Rows, long Total, int Page, string Sort)
{
    public int Pages => (int)Math.Max(1, (Total + ListQuery.PageSize - 1) / ListQuery.PageSize);
}

/// <summary>
/// A list's SQL. The sort keys name expressions written here in the code, so that nothing of a request reaches
/// the SQL text but through parameters; the search looks for the text anywhere in the named columns (case
/// ignored, <c>%</c> and <c>_</c> taken literally). A page past the end shows the last one.
/// </summary>
public sealed class PagedList(string select, string fromWhere, IReadOnlyDictionary<string, string> sorts, string defaultSort, string tieBreak, params string[] searchIn)
{
    public IEnumerable<string> SortKeys => sorts.Keys;

    public async Task<ListPage<T>> ReadAsync<T>(NpgsqlConnection connection, ListQuery query, object parameters)
    {
        var sort = query.Sort is { } s && sorts.ContainsKey(s.TrimStart('-')) ? s : defaultSort;
        var descending = sort.StartsWith('-');
        var args = new DynamicParameters(parameters);
        var where = fromWhere;
        if (query.Search?.Trim() is { Length: > 0 } search)
        {
            where += " AND (" + string.Join(" OR ", searchIn.Select(c => c + @" ILIKE @search ESCAPE '\'")) + ")";
            args.Add("search", "%" + Like.Escape(search[..Math.Min(search.Length, ListQuery.MaxSearchLength)]) + "%");
        }
        var total = await connection.ExecuteScalarAsync<long>("SELECT count(*) " + where, args);
        var pages = (int)Math.Max(1, (total + ListQuery.PageSize - 1) / ListQuery.PageSize);
        var page = Math.Clamp(query.Page, 1, pages);
        args.Add("offset", (page - 1) * ListQuery.PageSize);
        var rows = await connection.QueryAsync<T>(
            $"{select} {where} ORDER BY {sorts[sort.TrimStart('-')]} {(descending ? "DESC" : "ASC")}, {tieBreak} LIMIT {ListQuery.PageSize} OFFSET @offset", args);
        return new ListPage<T>(rows.AsList(), total, page, sort);
    }
}
