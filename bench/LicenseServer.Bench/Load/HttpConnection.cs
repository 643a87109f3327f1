using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LicenseServer.Bench.Load;

/// <summary>A status code and the body (de-chunked), or the network error as text.</summary>
public readonly record struct HttpAnswer(int Status, byte[] Body, string? NetworkError);

/// <summary>
/// One keep-alive HTTP/1.1 connection to the server, as lean as a load generator can be (wrk's way): a request
/// is one write of bytes formatted by the caller, an answer usually one read. The bench shares the machine's two
/// cores with the server it measures, so every microsecond it spends is taken from the server: HttpClient spent
/// 0.07 ms of CPU per request, a third of what the server itself spent on a checkout. Answers are read whole
/// (Content-Length or chunked) before the next request; a broken connection is opened again on the next one.
/// </summary>
public sealed class HttpConnection(Uri server) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static ReadOnlySpan<byte> HeaderEnd => "\r\n\r\n"u8;
    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    private CancellationTokenSource _timeout = new();
    private Socket? _socket;
    private byte[] _buffer = new byte[16 * 1024];
    private int _start, _end; // the bytes read but not consumed yet

    /// <summary>A request's bytes: the request line, Host, the given header lines (each ending in CRLF) and the body, if any.</summary>
    public byte[] Format(string method, string path, string headers, ReadOnlySpan<byte> jsonBody = default)
    {
        var content = jsonBody.IsEmpty ? "" : "Content-Type: application/json\r\n";
        var head = $"{method} {path} HTTP/1.1\r\nHost: {server.Authority}\r\n{headers}{content}Content-Length: {jsonBody.Length}\r\n\r\n";
        var bytes = new byte[Encoding.ASCII.GetByteCount(head) + jsonBody.Length];
        var written = Encoding.ASCII.GetBytes(head, bytes);
        jsonBody.CopyTo(bytes.AsSpan(written));
        return bytes;
    }

    public async Task<HttpAnswer> SendAsync(byte[] request, CancellationToken cancel)
    {
        _timeout.CancelAfter(Timeout);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancel, _timeout.Token);
        try
        {
            if (_socket is null)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(server.Host), server.Port), both.Token);
                (_socket, _start, _end) = (socket, 0, 0);
            }
            await _socket.SendAsync(request, SocketFlags.None, both.Token);
            var answer = await ReadAnswerAsync(both.Token);
            ResetTimeout();
            return answer;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or InvalidDataException)
        {
            Close();
            if (cancel.IsCancellationRequested) throw;
            ResetTimeout();
            return new HttpAnswer(0, [], e is OperationCanceledException ? "timeout" : $"network {e.GetType().Name}: {e.Message}");
        }
    }

    private void ResetTimeout()
    {
        if (_timeout.TryReset()) return;
        _timeout.Dispose(); // it fired
        _timeout = new CancellationTokenSource();
    }

    private async Task<HttpAnswer> ReadAnswerAsync(CancellationToken cancel)
    {
        int headerLength;
        while ((headerLength = _buffer.AsSpan(_start, _end - _start).IndexOf(HeaderEnd)) < 0) await FillAsync(cancel);
        var head = _buffer.AsSpan(_start, headerLength);
        if (head.Length < 12 || !head.StartsWith("HTTP/1.1 "u8) || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _))
            throw new InvalidDataException("The server's answer does not begin with an HTTP/1.1 status line.");
        long? length = null;
        bool chunked = false, close = false;
        foreach (var range in head.Split(Crlf))
        {
            var line = head[range];
            var colon = line.IndexOf((byte)':');
            if (colon < 0) continue;
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8) && Utf8Parser.TryParse(value, out long n, out _)) length = n;
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8)) chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8)) close = Ascii.EqualsIgnoreCase(value, "close"u8);
        }
        _start += headerLength + HeaderEnd.Length;
        byte[] body;
        if (chunked) body = await ReadChunkedAsync(cancel);
        else if (length is { } size) body = await ReadExactlyAsync((int)size, cancel);
        else if (status is 204 or 304 || status < 200) body = [];
        else throw new InvalidDataException("The server's answer has neither a Content-Length nor chunks.");
        if (close) Close();
        return new HttpAnswer(status, body, null);
    }

    private async Task<byte[]> ReadChunkedAsync(CancellationToken cancel)
    {
        using var body = new MemoryStream();
        while (true)
        {
            int lineLength;
            while ((lineLength = _buffer.AsSpan(_start, _end - _start).IndexOf(Crlf)) < 0) await FillAsync(cancel);
            var sizeText = _buffer.AsSpan(_start, lineLength);
            var semicolon = sizeText.IndexOf((byte)';');
            if (!Utf8Parser.TryParse(semicolon < 0 ? sizeText : sizeText[..semicolon], out int size, out _, 'x'))
                throw new InvalidDataException("A chunk of the server's answer has no size.");
            _start += lineLength + Crlf.Length;
            if (size == 0)
            {
                // No trailers are sent: the empty line ends the body.
                while (_end - _start < Crlf.Length) await FillAsync(cancel);
                _start += Crlf.Length;
                return body.ToArray();
            }
            body.Write(await ReadExactlyAsync(size, cancel));
            while (_end - _start < Crlf.Length) await FillAsync(cancel);
            _start += Crlf.Length;
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int size, CancellationToken cancel)
    {
        while (_end - _start < size) await FillAsync(cancel);
        var bytes = _buffer.AsSpan(_start, size).ToArray();
        _start += size;
        return bytes;
    }

    /// <summary>Reads what the socket has, after moving the unread bytes to the front (and growing the buffer when they fill it).</summary>
    private async Task FillAsync(CancellationToken cancel)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            (_start, _end) = (0, _end - _start);
        }
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        var read = await _socket!.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancel);
        if (read == 0) throw new IOException("The server closed the connection.");
        _end += read;
    }

    private void Close()
    {
        _socket?.Dispose();
        _socket = null;
    }

    public void Dispose()
    {
        Close();
        _timeout.Dispose();
    }
}
