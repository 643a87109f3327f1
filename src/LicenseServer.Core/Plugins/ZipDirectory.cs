using System.Buffers.Binary;
using System.Text;

namespace LicenseServer.Core.Plugins;

/// <summary>
/// A central directory entry as declared, and where its bytes lie in the file: from its local header
/// at <see cref="LocalHeaderOffset"/> to the end of its compressed data at <see cref="DataEnd"/> (exclusive).
/// </summary>
public sealed record ZipDirectoryEntry(string Name, long LocalHeaderOffset, long DataEnd, long CompressedSize, long UncompressedSize);

/// <summary>
/// Reads a zip's central directory and each entry's local header (PKWARE's APPNOTE.TXT, section 4),
/// ZIP64 included. ZipArchive keeps where an entry lies to itself, and that is what tells a package
/// from a zip bomb whose entries share one stream. Nothing read is trusted: sizes and offsets are
/// returned as declared (clamped to <see cref="long.MaxValue"/>) for the caller to judge.
/// </summary>
public static class ZipDirectory
{
    private const uint EndSignature = 0x06054b50, Zip64EndSignature = 0x06064b50, Zip64LocatorSignature = 0x07064b50,
        CentralSignature = 0x02014b50, LocalSignature = 0x04034b50;
    private const int EndLength = 22, Zip64LocatorLength = 20, Zip64EndLength = 56, CentralLength = 46, LocalLength = 30;
    private const ushort Zip64ExtraTag = 0x0001;

    /// <exception cref="InvalidDataException">
    /// There is no end of central directory record, a record is cut short or not where another says it is,
    /// or the directory lists more than <paramref name="maxEntries"/> entries.
    /// </exception>
    public static IReadOnlyList<ZipDirectoryEntry> Read(Stream zip, int maxEntries)
    {
        var length = zip.Length;
        var (count, offset) = ReadEnd(zip, length);
        if (count > (ulong)maxEntries) throw new InvalidDataException($"The central directory lists {count} entries.");
        var entries = new List<ZipDirectoryEntry>((int)count);
        var position = Clamp(offset);
        for (var i = 0UL; i < count; i++)
        {
            var (entry, next) = ReadCentralHeader(zip, position);
            entries.Add(entry);
            position = next;
        }
        // Second pass, so the directory above is read front to back.
        return entries.Select(entry => entry with { DataEnd = EndOfData(zip, length, entry) }).ToList();
    }

    /// <summary>
    /// The end record is the last 22 bytes but for a comment of up to 65535 bytes; like ZipArchive, take
    /// the last signature. Its fields hold 0xFFFF or 0xFFFFFFFF when a ZIP64 end record holds the values.
    /// </summary>
    private static (ulong Count, ulong Offset) ReadEnd(Stream zip, long length)
    {
        var tailLength = (int)Math.Min(length, EndLength + ushort.MaxValue);
        if (tailLength < EndLength) throw new InvalidDataException("The file is too short to be a zip.");
        var tail = ReadAt(zip, length - tailLength, tailLength);
        var at = tail.AsSpan(0, tailLength - EndLength + 4).LastIndexOf(BitConverter.GetBytes(EndSignature));
        if (at < 0) throw new InvalidDataException("The file has no end of central directory record.");
        var end = tail.AsSpan(at, EndLength);
        ulong count = U16(end, 10), offset = U32(end, 16);
        if (U16(end, 4) != ushort.MaxValue && count != ushort.MaxValue && offset != uint.MaxValue) return (count, offset);

        var locatorAt = length - tailLength + at - Zip64LocatorLength;
        if (locatorAt < 0) return (count, offset);
        var locator = ReadAt(zip, locatorAt, Zip64LocatorLength);
        if (U32(locator, 0) != Zip64LocatorSignature) return (count, offset);
        var end64 = ReadAt(zip, Clamp(U64(locator, 8)), Zip64EndLength);
        if (U32(end64, 0) != Zip64EndSignature) throw new InvalidDataException("The ZIP64 end record is not where its locator says.");
        // Every value from the ZIP64 record, not only the saturated ones: ZipArchive reads it so.
        return (U64(end64, 32), U64(end64, 48));
    }

    private static (ZipDirectoryEntry Entry, long Next) ReadCentralHeader(Stream zip, long position)
    {
        var header = ReadAt(zip, position, CentralLength);
        if (U32(header, 0) != CentralSignature) throw new InvalidDataException("A central directory header is not where the directory says.");
        ulong compressed = U32(header, 20), uncompressed = U32(header, 24), localOffset = U32(header, 42);
        int nameLength = U16(header, 28), extraLength = U16(header, 30), commentLength = U16(header, 32);
        var nameAndExtra = ReadAt(zip, position + CentralLength, nameLength + extraLength);
        var name = Encoding.UTF8.GetString(nameAndExtra, 0, nameLength);

        // ZIP64 extra field: the 8-byte values of the fields above that hold 0xFFFFFFFF, in this order, then the
        // 4-byte disk number if that holds 0xFFFF. Exactly those and once: readers differ on a longer block
        // (ZipArchive takes every value it holds), and these checks must judge the entries ZipArchive unpacks.
        var zip64Length = 8 * new[] { uncompressed, compressed, localOffset }.Count(v => v == uint.MaxValue) + (U16(header, 34) == ushort.MaxValue ? 4 : 0);
        var zip64Blocks = 0;
        var extra = nameAndExtra.AsSpan(nameLength);
        while (extra.Length >= 4)
        {
            var size = Math.Min(U16(extra, 2), extra.Length - 4);
            var block = extra.Slice(4, size);
            if (U16(extra, 0) == Zip64ExtraTag)
            {
                if (++zip64Blocks > 1 || U16(extra, 2) != zip64Length)
                    throw new InvalidDataException($"The ZIP64 field of \"{name}\" does not hold exactly the values its entry leaves out.");
                var at = 0;
                if (uncompressed == uint.MaxValue && Take(block, ref at) is { } u) uncompressed = u;
                if (compressed == uint.MaxValue && Take(block, ref at) is { } c) compressed = c;
                if (localOffset == uint.MaxValue && Take(block, ref at) is { } o) localOffset = o;
            }
            extra = extra[(4 + size)..];
        }
        var entry = new ZipDirectoryEntry(name, Clamp(localOffset), DataEnd: 0, Clamp(compressed), Clamp(uncompressed));
        return (entry, position + CentralLength + nameLength + extraLength + commentLength);
    }

    /// <summary>The local header's own name and extra lengths (which may differ from the directory's) place the data.</summary>
    private static long EndOfData(Stream zip, long length, ZipDirectoryEntry entry)
    {
        // A header that does not fit in the file: the entry ends past the end, which the caller refuses.
        if (entry.LocalHeaderOffset > length - LocalLength) return Add(entry.LocalHeaderOffset, LocalLength);
        var header = ReadAt(zip, entry.LocalHeaderOffset, LocalLength);
        if (U32(header, 0) != LocalSignature) throw new InvalidDataException($"The local header of \"{entry.Name}\" is not where the directory says.");
        return Add(entry.LocalHeaderOffset + LocalLength + U16(header, 26) + U16(header, 28), entry.CompressedSize);
    }

    private static byte[] ReadAt(Stream zip, long offset, int count)
    {
        if (offset < 0 || offset > zip.Length - count) throw new InvalidDataException("A zip record runs past the end of the file.");
        var bytes = new byte[count];
        zip.Position = offset;
        zip.ReadExactly(bytes);
        return bytes;
    }

    private static ulong? Take(ReadOnlySpan<byte> block, ref int at)
    {
        if (block.Length < at + 8) return null;
        var value = U64(block, at);
        at += 8;
        return value;
    }

    private static long Clamp(ulong value) => (long)Math.Min(value, long.MaxValue);
    private static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
    private static ushort U16(ReadOnlySpan<byte> bytes, int at) => BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);
    private static uint U32(ReadOnlySpan<byte> bytes, int at) => BinaryPrimitives.ReadUInt32LittleEndian(bytes[at..]);
    private static ulong U64(ReadOnlySpan<byte> bytes, int at) => BinaryPrimitives.ReadUInt64LittleEndian(bytes[at..]);
}
