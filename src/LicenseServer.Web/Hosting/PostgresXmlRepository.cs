using System.Xml.Linq;
using LicenseServer.Core.Security;
using LicenseServer.Data.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace LicenseServer.Web.Hosting;

/// <summary>
/// Keeps Data Protection keys in PostgreSQL, so cookies and links survive restarts and work on every node; each
/// encrypted with the secrets key from the file outside the database (<see cref="SecretsKeyring"/>).
/// </summary>
/// <remarks>The key is asked for at the first read or write only: a restore builds the services before the database has tables.</remarks>
internal sealed class PostgresXmlRepository(DataProtectionKeyRepository keys, Func<SecretsKey> secrets) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() => keys.GetAll().Select(row => XElement.Parse(secrets().Decrypt(row))).ToArray();

    public void StoreElement(XElement element, string friendlyName) =>
        keys.Store(friendlyName, secrets().Encrypt(element.ToString(SaveOptions.DisableFormatting)));
}
