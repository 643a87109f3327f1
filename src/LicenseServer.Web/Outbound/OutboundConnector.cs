using System.Net;
using System.Net.Sockets;
using LicenseServer.Core.Outbound;

namespace LicenseServer.Web.Outbound;

/// <summary>The host is, or resolved only to, addresses the server never connects to. Final: trying again cannot change it.</summary>
public sealed class OutboundRefusedException(OutboundRefusal refusal) : Exception(refusal.Sentence)
{
    public OutboundRefusal Refusal { get; } = refusal;
}

/// <summary>
/// The one way to a host that a tenant configured (its mail server, its alert webhook). The name is resolved
/// here rather than by the library that speaks the protocol, so that the addresses that
/// <see cref="OutboundAddress"/> checked are the ones connected to: no second lookup that could answer
/// otherwise. Forbidden addresses are dropped; the others are tried in the resolver's order until one answers,
/// within the caller's timeout.
/// </summary>
public static class OutboundConnector
{
    /// <exception cref="OutboundRefusedException">The host resolved only to forbidden addresses; no connection was attempted.</exception>
    /// <exception cref="SocketException">The name was not found, or no allowed address accepted the connection (the last one's error).</exception>
    public static async Task<Socket> ConnectAsync(string host, int port, CancellationToken cancel)
    {
        IPAddress[] resolved = OutboundAddress.Literal(host) is { } literal ? [literal] : await Dns.GetHostAddressesAsync(host, cancel);
        var (allowed, refusal) = OutboundAddress.Choose(host, resolved);
        if (refusal is not null) throw new OutboundRefusedException(refusal);
        if (allowed.Count == 0) throw new SocketException((int)SocketError.HostNotFound);
        SocketException? failed = null;
        foreach (var address in allowed)
        {
            Socket? socket = null;
            try
            {
                socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(address, port), cancel);
                return socket;
            }
            catch (SocketException e)
            {
                socket?.Dispose();
                failed = e;
            }
            catch
            {
                socket?.Dispose();
                throw;
            }
        }
        throw failed!;
    }
}
