"""Save documents with a password through LibreOffice's UNO API.

Usage: python3 lo_password.py PIPE PASSWORD FILTER IN OUT [FILTER IN OUT ...]

soffice must be listening on the named pipe (--accept="pipe,name=PIPE;urp;").
For OOXML filters LibreOffice writes an OLE compound file with the
EncryptionInfo and EncryptedPackage streams (ECMA-376 standard encryption);
for ODF filters (writer8, calc8, impress8) an encrypted ODF package.
"""
import sys
import time

import uno
from com.sun.star.beans import NamedValue, PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def named(name, value):
    n = NamedValue()
    n.Name = name
    n.Value = value
    return n


def main():
    pipe, password = sys.argv[1], sys.argv[2]
    jobs = sys.argv[3:]
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    for _ in range(100):
        try:
            ctx = resolver.resolve(
                "uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
            break
        except Exception:
            time.sleep(0.2)
    else:
        sys.exit("lo_password: soffice did not answer")
    desktop = ctx.ServiceManager.createInstanceWithContext(
        "com.sun.star.frame.Desktop", ctx)
    for i in range(0, len(jobs), 3):
        flt, src, dst = jobs[i:i + 3]
        doc = desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(src), "_blank", 0, (prop("Hidden", True),))
        if flt in ("writer8", "calc8", "impress8"):
            # ODF: the package encrypts every stream (ODF 1.2 Part 3, 3.4).
            doc.storeToURL(uno.systemPathToFileUrl(dst), (
                prop("FilterName", flt), prop("Password", password)))
            doc.close(True)
            continue
        # The OOXML filters take the password as EncryptionData/OOXPassword
        # (a plain "Password" property is ignored by them) and need the
        # engine named: "Standard" is ECMA-376 standard encryption (AES-128).
        enc = uno.Any("[]com.sun.star.beans.NamedValue",
                      (named("OOXPassword", password),
                       named("CryptoType", "Standard")))
        uno.invoke(doc, "storeAsURL", (uno.systemPathToFileUrl(dst), (
            prop("FilterName", flt), prop("EncryptionData", enc))))
        doc.close(True)
    try:
        desktop.terminate()
    except Exception:
        pass  # the bridge drops as soffice exits


if __name__ == "__main__":
    main()
