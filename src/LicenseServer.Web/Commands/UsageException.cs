namespace LicenseServer.Web.Commands;

/// <summary>A mistake on kit-server's command line: its sentence is printed, and the exit code is 2.</summary>
public sealed class UsageException(string message) : Exception(message);
