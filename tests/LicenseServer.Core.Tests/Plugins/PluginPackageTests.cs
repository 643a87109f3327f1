using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using LicenseServer.Core.Plugins;

namespace LicenseServer.Core.Tests.Plugins;

/// <summary>Zip bombs are refused each with its own code, before anything is unpacked; real packages pass.</summary>
public class PluginPackageTests
{
    private const long MaxUpload = 200L * 1024 * 1024; // the server's default upload limit

    private const string Manifest = """{"id":"com.acme.slack","name":"Slack Notifier","version":"1.0.0","compatible":">=7.2.2"}""";

    private static PluginManifest Inspect(byte[] package, long maxUpload = MaxUpload)
    {
        using var stream = new MemoryStream(package, writable: false);
        return PluginPackage.Inspect(stream, maxUpload);
    }

    private static PluginRejectedException Refused(byte[] package, long maxUpload = MaxUpload) =>
        Assert.Throws<PluginRejectedException>(() => Inspect(package, maxUpload))!;

    /// <summary>A package as a zip tool makes it: the manifest, some text that compresses a few times, and a jar that does not.</summary>
    private static byte[] NormalPackage(Action<ZipArchive>? more = null, Func<Stream, Stream>? wrap = null)
    {
        var random = new Random(7);
        var words = new[] { "license", "seat", "checkout", "lease", "plugin", "server", "slack", "notify", "channel", "token" };
        var text = string.Join(' ', Enumerable.Range(0, 20_000).Select(_ => words[random.Next(words.Length)] + random.Next(1000)));
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(wrap?.Invoke(buffer) ?? buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var writer = new StreamWriter(zip.CreateEntry("plugin.json").Open())) writer.Write(Manifest);
            using (var writer = new StreamWriter(zip.CreateEntry("README.txt").Open())) writer.Write(text);
            using (var jar = zip.CreateEntry("lib/slack.jar", CompressionLevel.Optimal).Open()) jar.Write(RandomNumberGenerator.GetBytes(50_000));
            using (var config = zip.CreateEntry("config/default.json").Open()) config.Write("{\"channel\":\"#builds\"}"u8);
            more?.Invoke(zip);
        }
        return buffer.ToArray();
    }

    [Test]
    public void A_small_package_whose_entries_all_point_at_one_stream_is_refused_as_overlapping()
    {
        var bomb = ZipBombs.Overlapping(Manifest);
        using (var stream = new MemoryStream(bomb))
        {
            var declared = ZipDirectory.Read(stream, PluginPackage.MaxEntries).Sum(entry => entry.UncompressedSize);
            Assert.That(declared, Is.EqualTo(1110L * 1024 * 1024 + Manifest.Length), "1.08 GiB declared");
            Assert.That(bomb.Length, Is.LessThan(20 * 1024), "by a package of a few KB");
        }

        var refused = Refused(bomb);

        Assert.That(refused.Code, Is.EqualTo("overlapping_entries"));
        Assert.That(refused.Message, Is.EqualTo(
            "Entries of the package share their data (\"lib/data-000.bin\" and \"lib/data-001.bin\"), which no zip tool makes. It was refused as a zip bomb."));
    }

    [Test]
    public void The_same_bomb_in_ZIP64_form_is_refused_as_overlapping()
    {
        // Every offset and size is in the ZIP64 extra field: misread, the entries would lie past the end of the file instead.
        Assert.That(Refused(ZipBombs.Overlapping(Manifest, megabytes: 1, pointers: 20, zip64: true)).Code, Is.EqualTo("overlapping_entries"));
    }

    [Test]
    public void An_entry_whose_data_runs_into_the_next_entry_is_refused_as_overlapping()
    {
        var zip = new RawZip();
        zip.Add("plugin.json", Encoding.UTF8.GetBytes(Manifest));
        var first = zip.Add("lib/first.bin", RandomNumberGenerator.GetBytes(1000), store: true, list: false);
        zip.Add("lib/second.bin", RandomNumberGenerator.GetBytes(1000), store: true);
        zip.List(first with { CompressedSize = first.CompressedSize + 100 });

        var refused = Refused(zip.ToArray());

        Assert.That(refused.Code, Is.EqualTo("overlapping_entries"));
        Assert.That(refused.Message, Does.Contain("\"lib/first.bin\" and \"lib/second.bin\""));
    }

    [Test]
    public void A_package_of_one_entry_that_expands_over_100_times_is_refused_by_its_ratio()
    {
        var bomb = ZipBombs.Expanding(Manifest, megabytes: 10);
        Assert.That(bomb.Length, Is.LessThan(12 * 1024), "10 MiB of zeros deflate to about 10 KB");

        var refused = Refused(bomb);

        Assert.That(refused.Code, Is.EqualTo("zip_bomb_ratio"));
        Assert.That(refused.Message, Is.EqualTo(
            $"The package would unpack to 10 MB from an upload of {Math.Round(bomb.Length / 1024.0)} KB, more than 100 times its size. It was refused as a zip bomb."));
    }

    [Test]
    public void A_package_that_would_unpack_over_ten_times_the_upload_limit_is_refused_by_the_absolute_cap()
    {
        var refused = Refused(ZipBombs.Expanding(Manifest, megabytes: 10), maxUpload: 512 * 1024);

        Assert.That(refused.Code, Is.EqualTo("zip_bomb"));
        Assert.That(refused.Message, Is.EqualTo(
            "The package would unpack to 10 MB, more than the 5 MB a package may hold on this server (10 times the upload limit). It was refused as a zip bomb."));
    }

    [Test]
    public void A_package_as_zip_tools_make_it_is_accepted()
    {
        var package = NormalPackage();
        using (var stream = new MemoryStream(package))
        {
            var declared = ZipDirectory.Read(stream, PluginPackage.MaxEntries).Sum(entry => entry.UncompressedSize);
            Assert.That(declared / (double)package.Length, Is.InRange(1.5, 10), "modest compression");
        }
        Assert.That(Inspect(package).Id, Is.EqualTo("com.acme.slack"));
    }

    [Test]
    public void A_package_written_as_a_stream_with_data_descriptors_is_accepted()
    {
        // Written to a stream that cannot seek, ZipArchive puts each entry's sizes after its data.
        var package = NormalPackage(wrap: stream => new UnseekableStream(stream));
        Assert.That(BitConverter.ToUInt16(package, 6) & 0x0008, Is.Not.Zero, "the first entry has a data descriptor");
        Assert.That(Inspect(package).Id, Is.EqualTo("com.acme.slack"));
    }

    [Test]
    public void A_package_with_a_long_archive_comment_is_accepted()
    {
        var package = NormalPackage(zip => zip.Comment = new string('c', 60_000));
        Assert.That(Inspect(package).Id, Is.EqualTo("com.acme.slack"));
    }

    [Test]
    public void A_ZIP64_field_that_holds_more_than_its_entry_leaves_out_is_refused_as_damaged()
    {
        var zip = new RawZip(longZip64Block: true);
        zip.Add("plugin.json", Encoding.UTF8.GetBytes(Manifest));
        zip.Add("lib/slack.jar", RandomNumberGenerator.GetBytes(2_000), store: true);
        Assert.That(Assert.Throws<PluginRejectedException>(() => Inspect(zip.ToArray()))!.Code, Is.EqualTo("damaged"));
    }

    [Test]
    public void A_ZIP64_package_is_read_and_accepted()
    {
        var zip = new RawZip(zip64: true);
        zip.Add("plugin.json", Encoding.UTF8.GetBytes(Manifest));
        var jar = zip.Add("lib/slack.jar", RandomNumberGenerator.GetBytes(20_000), store: true);
        zip.Add("README.txt", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("Posts build results to Slack. ", 100))));
        var package = zip.ToArray();

        using (var stream = new MemoryStream(package))
        {
            var read = ZipDirectory.Read(stream, PluginPackage.MaxEntries)[1];
            Assert.That(read, Is.EqualTo(new ZipDirectoryEntry("lib/slack.jar", jar.Offset, jar.Offset + 30 + "lib/slack.jar".Length + 20 + 20_000, 20_000, 20_000)));
        }
        Assert.That(Inspect(package).Id, Is.EqualTo("com.acme.slack"));
    }

    [Test]
    public void An_entry_whose_data_runs_past_the_end_of_the_file_is_refused_as_truncated()
    {
        var zip = new RawZip();
        zip.Add("plugin.json", Encoding.UTF8.GetBytes(Manifest));
        var jar = zip.Add("lib/slack.jar", RandomNumberGenerator.GetBytes(1000), store: true, list: false);
        zip.List(jar with { CompressedSize = 1_000_000 });

        var refused = Refused(zip.ToArray());

        Assert.That(refused.Code, Is.EqualTo("truncated"));
        Assert.That(refused.Message, Is.EqualTo(
            "The package is damaged: its entry \"lib/slack.jar\" runs past the end of the file, as if the upload was cut short. Upload the whole package again."));
    }

    [Test]
    public void An_entry_whose_local_header_lies_past_the_end_of_the_file_is_refused_as_truncated()
    {
        var zip = new RawZip();
        zip.Add("plugin.json", Encoding.UTF8.GetBytes(Manifest));
        var jar = zip.Add("lib/slack.jar", [1, 2, 3], store: true, list: false);
        zip.List(jar with { Offset = 1_000_000 });

        Assert.That(Refused(zip.ToArray()).Code, Is.EqualTo("truncated"));
    }

    [Test]
    public void A_package_cut_short_is_refused_as_damaged_and_another_file_as_not_a_zip()
    {
        var package = NormalPackage();
        var damaged = Refused(package[..(package.Length / 2)]);
        Assert.That(damaged.Code, Is.EqualTo("damaged"));
        Assert.That(damaged.Message, Does.StartWith("The package is damaged"));

        Assert.That(Refused(Encoding.UTF8.GetBytes("this is not a zip file at all")).Code, Is.EqualTo("not_a_zip"));
    }

    [Test]
    public void A_local_header_that_is_not_where_the_directory_says_is_refused_as_damaged()
    {
        var zip = new RawZip();
        zip.Add("plugin.json", Encoding.UTF8.GetBytes(Manifest));
        var jar = zip.Add("lib/slack.jar", RandomNumberGenerator.GetBytes(1000), store: true, list: false);
        zip.List(jar with { Offset = jar.Offset + 200 });

        Assert.That(Refused(zip.ToArray()).Code, Is.EqualTo("damaged"));
    }

    private sealed class UnseekableStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    }
}
