using System.Xml.Linq;
using LicenseServer.Data.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace LicenseServer.Web.Hosting;

/// <summary>Keeps Data Protection keys in PostgreSQL, so cookies and links survive restarts and work on every node.</summary>
internal sealed class PostgresXmlRepository(DataProtectionKeyRepository keys) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() => keys.GetAll().Select(XElement.Parse).ToArray();

    public void StoreElement(XElement element, string friendlyName) =>
        keys.Store(friendlyName, element.ToString(SaveOptions.DisableFormatting));
}
