using System.IO.Compression;
using System.Text;

namespace LicenseServer.Core.Tests.Plugins;

/// <summary>
/// Writes a zip byte by byte, after PKWARE's APPNOTE.TXT, so tests can make what no zip tool makes:
/// central directory entries that share one stream, ZIP64 records on a small file, sizes that run
/// past the end of the file. The integration tests compile this file too (linked in their project).
/// </summary>
/// <param name="longZip64Block">
/// Only the directory's local header offsets saturated, with a ZIP64 block of 28 bytes (sizes, offset, disk) where
/// 8 stand for what is left out: readers disagree on where in it the offset is.
/// </param>
public sealed class RawZip(bool zip64 = false, bool longZip64Block = false)
{
    /// <summary>A central directory entry: where its local header lies and the sizes it declares.</summary>
    public sealed record Entry(string Name, long Offset, long CompressedSize, long Size, uint Crc, ushort Method);

    private readonly MemoryStream _bytes = new();
    private readonly List<Entry> _directory = [];

    /// <summary>
    /// Writes a local header and the data (deflated unless <paramref name="store"/>), and lists the entry in
    /// the central directory unless <paramref name="list"/> is false (to list it otherwise with <see cref="List"/>).
    /// </summary>
    public Entry Add(string name, byte[] data, bool store = false, bool list = true)
    {
        var compressed = store ? data : Deflate(data);
        var entry = new Entry(name, _bytes.Position, compressed.Length, data.Length, Crc32(data), store ? (ushort)0 : (ushort)8);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        Write32(0x04034b50);
        WriteCommon(entry);
        Write32(zip64 ? uint.MaxValue : (uint)entry.CompressedSize);
        Write32(zip64 ? uint.MaxValue : (uint)entry.Size);
        Write16(nameBytes.Length);
        Write16(zip64 ? 20 : 0);
        _bytes.Write(nameBytes);
        if (zip64)
        {
            Write16(0x0001);
            Write16(16);
            Write64(entry.Size);
            Write64(entry.CompressedSize);
        }
        _bytes.Write(compressed);
        if (list) _directory.Add(entry);
        return entry;
    }

    /// <summary>Lists an entry in the central directory only, as given: at another entry's data, or with sizes that lie.</summary>
    public void List(Entry entry) => _directory.Add(entry);

    public byte[] ToArray()
    {
        var start = _bytes.Position;
        foreach (var entry in _directory)
        {
            var nameBytes = Encoding.UTF8.GetBytes(entry.Name);
            Write32(0x02014b50);
            Write16(zip64 ? 45 : 20);
            WriteCommon(entry);
            Write32(zip64 ? uint.MaxValue : (uint)entry.CompressedSize);
            Write32(zip64 ? uint.MaxValue : (uint)entry.Size);
            Write16(nameBytes.Length);
            Write16(zip64 ? 28 : longZip64Block ? 32 : 0);
            Write16(0); // comment
            Write16(0); // disk
            Write16(0); // internal attributes
            Write32(0); // external attributes
            Write32(zip64 || longZip64Block ? uint.MaxValue : (uint)entry.Offset);
            _bytes.Write(nameBytes);
            if (zip64)
            {
                Write16(0x0001);
                Write16(24);
                Write64(entry.Size);
                Write64(entry.CompressedSize);
                Write64(entry.Offset);
            }
            else if (longZip64Block)
            {
                Write16(0x0001);
                Write16(28);
                Write64(entry.Offset);
                Write64(entry.CompressedSize);
                Write64(entry.Offset);
                Write32(0);
            }
        }
        var size = _bytes.Position - start;
        if (zip64)
        {
            var end64 = _bytes.Position;
            Write32(0x06064b50);
            Write64(44);
            Write16(45);
            Write16(45);
            Write32(0);
            Write32(0);
            Write64(_directory.Count);
            Write64(_directory.Count);
            Write64(size);
            Write64(start);
            Write32(0x07064b50);
            Write32(0);
            Write64(end64);
            Write32(1);
        }
        Write32(0x06054b50);
        Write16(0);
        Write16(0);
        Write16(zip64 ? 0xFFFF : _directory.Count);
        Write16(zip64 ? 0xFFFF : _directory.Count);
        Write32(zip64 ? uint.MaxValue : (uint)size);
        Write32(zip64 ? uint.MaxValue : (uint)start);
        Write16(0);
        return _bytes.ToArray();
    }

    // Version needed, flags, method, time, date (1980-01-01) and CRC: the same in both headers.
    private void WriteCommon(Entry entry)
    {
        Write16(zip64 ? 45 : 20);
        Write16(0);
        Write16(entry.Method);
        Write16(0);
        Write16(0x21);
        Write32(entry.Crc);
    }

    private void Write16(int value) => _bytes.Write(BitConverter.GetBytes((ushort)value));
    private void Write32(uint value) => _bytes.Write(BitConverter.GetBytes(value));
    private void Write64(long value) => _bytes.Write(BitConverter.GetBytes(value));

    public static byte[] Deflate(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var deflate = new DeflateStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true)) deflate.Write(data);
        return buffer.ToArray();
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static uint Crc32(byte[] data)
    {
        var crc = uint.MaxValue;
        foreach (var b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
}

/// <summary>Zip bombs seen or feared, each with a valid plugin.json so that only the bomb checks can refuse it.</summary>
public static class ZipBombs
{
    /// <summary>
    /// One deflate stream of <paramref name="megabytes"/> MiB of zeros, and <paramref name="pointers"/> more
    /// central directory entries at the same local header: with the defaults about 18 KB that declare 1.08 GiB.
    /// </summary>
    public static byte[] Overlapping(string manifest, int megabytes = 10, int pointers = 110, bool zip64 = false)
    {
        var zip = new RawZip(zip64);
        zip.Add("plugin.json", Encoding.UTF8.GetBytes(manifest));
        var kernel = zip.Add("lib/data-000.bin", new byte[megabytes * 1024 * 1024]);
        for (var i = 1; i <= pointers; i++) zip.List(kernel with { Name = $"lib/data-{i:000}.bin" });
        return zip.ToArray();
    }

    /// <summary>One honest entry of <paramref name="megabytes"/> MiB of zeros: nothing overlaps, it only expands a thousandfold.</summary>
    public static byte[] Expanding(string manifest, int megabytes = 10)
    {
        var zip = new RawZip();
        zip.Add("plugin.json", Encoding.UTF8.GetBytes(manifest));
        zip.Add("lib/zeros.bin", new byte[megabytes * 1024 * 1024]);
        return zip.ToArray();
    }
}
