using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using LicenseServer.Data.Database;
using Npgsql;
using NpgsqlTypes;

namespace LicenseServer.Data.Licenses;

/// <summary>
/// Per-user activation's hot case, batched (<see cref="BatchWriter{TCall,TResult}"/>): the renewals by bearer token that arrive
/// while a batch is in the database go together into the next one, one round trip of one statement per renewal
/// (<see cref="MachineActivationRepository.RenewalSql"/>, each with every check it makes alone) in one transaction,
/// committed once with its flush before any lease is signed. What a batch saves is what every transaction
/// pays once: the round trip, the snapshot and the commit's flush.
/// </summary>
public sealed class RenewalBatcher(NpgsqlDataSource db, TimeProvider clock)
    : BatchWriter<RenewalBatcher.Call, TokenRenewal?>(db, MaxBatch, queues: 1, writersPerQueue: 2) // one batch in the database while the next one fills
{
    private const int MaxBatch = 64;

    public sealed record Call(byte[] TokenHash, long OrganizationId, string ProductCode, string MachineId, DateTimeOffset LeaseExpiresAt);

    /// <summary>
    /// Token, then pool: a user's assignment (which each renewal locks) is locked in the same order in
    /// every batch while the user has one token, so concurrent batches mostly wait for one another rather
    /// than deadlock.
    /// </summary>
    protected override Comparison<Call> LockOrder => (a, b) =>
    {
        var byToken = a.TokenHash.AsSpan().SequenceCompareTo(b.TokenHash);
        if (byToken != 0) return byToken;
        var byOrganization = a.OrganizationId.CompareTo(b.OrganizationId);
        return byOrganization != 0 ? byOrganization : string.CompareOrdinal(a.ProductCode, b.ProductCode);
    };

    // Declared before PositionalSql, which needs it when the class is initialized.
    private static readonly string[] ParameterOrder = ["tokenHash", "organizationId", "productCode", "machineId", "now", "leaseExpiresAt", "clockSkewSeconds"];

    /// <summary>
    /// <see cref="MachineActivationRepository.RenewalSql"/> with positional parameters ($1 = tokenHash, ...): Npgsql parses
    /// and rewrites a statement with named ones on every execution, for each statement of a batch (measured:
    /// 4% of the server's CPU per activation), and sends one with positional ones as it is.
    /// </summary>
    private static readonly string PositionalSql = Regex.Replace(MachineActivationRepository.RenewalSql, @"@(\w+)", m =>
        Array.IndexOf(ParameterOrder, m.Groups[1].Value) is var i and >= 0
            ? "$" + (i + 1).ToString(CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"RenewalSql has a parameter @{m.Groups[1].Value} that the batch does not send."));

    /// <summary>
    /// The bearer token's caller, with the grant when it renewed an active machine (every check passed); null when the
    /// token was refused. A renewal that was not made wrote nothing: the caller activates, which says why.
    /// </summary>
    public Task<TokenRenewal?> RenewAsync(byte[] tokenHash, long organizationId, string productCode, string machineId, DateTimeOffset leaseExpiresAt) =>
        PostAsync(new Call(tokenHash, organizationId, productCode, machineId, leaseExpiresAt));

    /// <summary>The renewals of a batch, in its order; one implicit transaction (a batch without error barriers), safe to repeat.</summary>
    protected override async Task<TokenRenewal?[]> WriteBatchAsync(IReadOnlyList<Call> batch, int attempt)
    {
        var now = clock.GetUtcNow();
        await using var connection = await Db.OpenConnectionAsync();
        await using var statements = new NpgsqlBatch(connection);
        foreach (var call in batch)
            statements.BatchCommands.Add(new NpgsqlBatchCommand(PositionalSql)
            {
                Parameters =
                {
                    new NpgsqlParameter<byte[]> { NpgsqlDbType = NpgsqlDbType.Bytea, TypedValue = call.TokenHash },
                    new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = call.OrganizationId },
                    new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = call.ProductCode },
                    new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = call.MachineId },
                    new NpgsqlParameter<DateTime> { NpgsqlDbType = NpgsqlDbType.TimestampTz, TypedValue = now.UtcDateTime },
                    new NpgsqlParameter<DateTime> { NpgsqlDbType = NpgsqlDbType.TimestampTz, TypedValue = call.LeaseExpiresAt.UtcDateTime },
                    new NpgsqlParameter<int> { NpgsqlDbType = NpgsqlDbType.Integer, TypedValue = SeatPools.ClockSkewSeconds },
                },
            });
        var renewals = new TokenRenewal?[batch.Count];
        await using var reader = await statements.ExecuteReaderAsync();
        for (var i = 0; i < batch.Count; i++)
        {
            if (i > 0 && !await reader.NextResultAsync())
                throw new InvalidOperationException("A batch of renewals answered fewer results than it had calls.");
            if (await reader.ReadAsync())
                renewals[i] = MachineActivationRepository.ToRenewal(reader.GetRowParser<MachineActivationRepository.CheckRow>()(reader), batch[i].OrganizationId, batch[i].ProductCode);
        }
        return renewals;
    }
}
