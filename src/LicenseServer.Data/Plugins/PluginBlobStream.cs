using System.Buffers;
using System.Data;
using Npgsql;

namespace LicenseServer.Data.Plugins;

/// <summary>
/// A read-only, seekable stream over a package's bytes in the database, so that a download (and its range
/// requests) is served as a file would be. It holds one chunk in memory, and reads a chunk only when the
/// position reaches it: a range request reads just the chunks it covers. Each chunk is read on a pooled
/// connection that goes back to the pool at once, so a slow client never keeps a connection from the others.
/// </summary>
public sealed class PluginBlobStream : Stream
{
    private readonly NpgsqlDataSource _db;
    private readonly string _sha256;
    private readonly long _length;
    private readonly int _chunkBytes;
    private byte[]? _chunk;
    private int _chunkIndex = -1;
    private long _position;
    private bool _disposed;

    internal PluginBlobStream(NpgsqlDataSource db, string sha256, long length, int chunkBytes)
    {
        _db = db;
        _sha256 = sha256;
        _length = length;
        _chunkBytes = chunkBytes;
    }

    public override bool CanRead => !_disposed;
    public override bool CanSeek => !_disposed;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_position >= _length || buffer.IsEmpty) return 0;
        var index = (int)(_position / _chunkBytes);
        if (index != _chunkIndex) LoadAsync(index, false, CancellationToken.None).GetAwaiter().GetResult();
        return CopyOut(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_position >= _length || buffer.IsEmpty) return 0;
        var index = (int)(_position / _chunkBytes);
        if (index != _chunkIndex) await LoadAsync(index, true, cancellationToken);
        return CopyOut(buffer.Span);
    }

    private int CopyOut(Span<byte> buffer)
    {
        var offset = (int)(_position - (long)_chunkIndex * _chunkBytes);
        var count = (int)Math.Min(buffer.Length, Math.Min(_chunkBytes - offset, _length - _position));
        _chunk.AsSpan(offset, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    /// <summary>Reads chunk <paramref name="index"/> into the one buffer; a chunk that is missing or of the wrong size ends the download.</summary>
    private async Task LoadAsync(int index, bool async, CancellationToken cancel)
    {
        _chunk ??= ArrayPool<byte>.Shared.Rent(_chunkBytes);
        _chunkIndex = -1;
        var expected = (int)Math.Min(_chunkBytes, _length - (long)index * _chunkBytes);
        await using var connection = async ? await _db.OpenConnectionAsync(cancel) : _db.OpenConnection();
        await using var command = new NpgsqlCommand("SELECT octet_length(bytes), bytes FROM plugin_chunk WHERE sha256 = $1 AND n = $2", connection)
        {
            Parameters = { new NpgsqlParameter<string> { TypedValue = _sha256 }, new NpgsqlParameter<int> { TypedValue = index } },
        };
        // Sequential access: the column is read from the connection into the buffer, never copied whole first.
        await using var reader = async
            ? await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess | CommandBehavior.SingleRow, cancel)
            : command.ExecuteReader(CommandBehavior.SequentialAccess | CommandBehavior.SingleRow);
        if (!(async ? await reader.ReadAsync(cancel) : reader.Read()))
            throw new IOException($"Chunk {index} of the package {_sha256} is not in the database: the package was deleted while it was read.");
        // octet_length reads the size from the value's header, without fetching its bytes.
        var stored = reader.GetInt32(0);
        if (stored != expected)
            throw new IOException($"Chunk {index} of the package {_sha256} holds {stored} bytes where {expected} were stored.");
        await using var column = async ? await reader.GetStreamAsync(1, cancel) : reader.GetStream(1);
        if (async) await column.ReadExactlyAsync(_chunk.AsMemory(0, expected), cancel);
        else column.ReadExactly(_chunk.AsSpan(0, expected));
        _chunkIndex = index;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            if (_chunk is not null) ArrayPool<byte>.Shared.Return(_chunk);
            _chunk = null;
            _chunkIndex = -1;
        }
        base.Dispose(disposing);
    }
}
