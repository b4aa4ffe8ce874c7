"""Settings read from the environment, each with a default that runs embedded."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

EMBEDDED_SECRET = "embedded-insecure-secret-change-me"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where outbound mail goes: parsed from FOLLOWUP_SMTP_URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False  # smtps:// (implicit TLS)
    starttls: bool = False
    timeout: float = 30.0


@dataclass(frozen=True)
class DkimKey:
    """One DKIM key: the first for a domain signs, later ones stay published during rotation."""

    domain: str
    selector: str
    pem: bytes = field(repr=False)
    signing: bool = True
    setting: str = "FOLLOWUP_DKIM_KEYS"  # where it came from, for error lines


@dataclass(frozen=True)
class Settings:
    """Every setting the service reads; built once at start by `load_settings`."""

    database_url: str
    redis_url: str | None
    smtp: SmtpSettings
    base_url: str
    secret_keys: tuple[str, ...] = field(repr=False)
    instance_path: Path
    production: bool
    sink_dir: Path
    mail_domain: str
    default_from_email: str
    default_from_name: str
    ip_truncate: bool
    inbound_max_bytes: int
    redis_namespace: str = "followup"
    send_lease_seconds: int = 300
    send_batch: int = 50  # due steps a worker takes in one go (one claim, one record)
    max_send_attempts: int = 8
    # How a worker decides whether a message whose send was cut off during DATA was delivered:
    # "sink" (our own SMTP sink's Message-ID index in sink_dir) or "none" (flag for review).
    delivery_probe: str = "none"
    auto_reply_pause_days: int = 7  # when an out-of-office names no return date
    soft_bounce_limit: int = 3  # temporary bounces before an address counts as bounced
    reply_to_inbound: bool = False  # Reply-To: reply+<token>@mail domain (no mailbox reply_to)
    spool_fsync: bool = False  # flush each tracking hit to disk before answering (power-cut safe)
    # Who writes the tracking spool to the database: "thread" (a thread in each web process) or
    # "external" (`followup spool drain --forever`, which `followup web` runs beside gunicorn).
    spool_drain: str = "thread"
    # Webhook targets: public addresses only, unless these allow more (self-hosters, tests).
    webhook_allow_private: bool = False
    webhook_allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    api_max_body_bytes: int = 2 * 1024 * 1024  # a JSON body of the API; more is a 413
    dkim_keys: tuple[DkimKey, ...] = ()
    # The FOLLOWUP_* variables that were set (NAME for NAME_FILE too): a default may be adjusted
    # at start (a busy default port moves), a value the user gave never is.
    given: frozenset[str] = frozenset()
    metrics_token: str | None = field(default=None, repr=False)  # GET /metrics bearer
    # Fernet keys for the secrets the database holds (sequences/vault.py): the first encrypts,
    # all decrypt. Empty: a key file in the instance folder (embedded), none in production.
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    # STARTTLS on the inbound SMTP server: a PEM certificate chain and its key (both or neither);
    # require_tls refuses MAIL FROM before STARTTLS. Reloaded on SIGHUP (a renewed certificate).
    inbound_tls_cert: Path | None = None
    inbound_tls_key: Path | None = None
    inbound_require_tls: bool = False
    # Failed sign-ins and API keys (sequences/workspace/throttle.py): the first wait once a
    # scope's free failures are used up, doubling per failure up to the longest.
    throttle_base_seconds: int = 1
    throttle_max_seconds: int = 900
    # How many reverse proxies stand in front of the web process (nginx before gunicorn: 1).
    # Their X-Forwarded-For / -Proto entries are trusted, so the client address is the real
    # one; 0 (the default) trusts no such header, which any client can write.
    trusted_proxies: int = 0
    # Prometheus exposition of the dramatiq workers (Dramatiq's middleware) and of the
    # scheduler: (host, port), or None (off, the default: nothing listens unasked).
    worker_metrics: tuple[str, int] | None = None
    worker_metrics_dir: Path | None = None  # the workers' multiprocess files (default: instance)
    scheduler_metrics: tuple[str, int] | None = None
    # The web's Prometheus text on an admin listener of its own (FOLLOWUP_METRICS_BIND): then
    # the public app answers 404 on /metrics, token or not.
    metrics_bind: tuple[str, int] | None = None

    @property
    def secret_key(self) -> str:
        """The key new tokens are signed with (the first of the list)."""
        return self.secret_keys[0]


def _get(env: Mapping[str, str], name: str) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker secrets)."""
    value = env.get(name)
    if value is not None and value != "":
        return value
    file_name = env.get(name + "_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {file_name}: {exc.strerror}") from None
    return None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = _get(env, name)
    if raw is None:
        return default
    if raw.strip().lower() not in allowed:
        raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {raw!r}")
    return raw.strip().lower()


def _networks(
    env: Mapping[str, str], name: str
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated list of CIDR networks (10.0.0.0/8, fd00::/8, 192.168.1.5)."""
    raw = _get(env, name)
    if raw is None:
        return ()
    networks = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: not a network in CIDR notation: {item!r}") from None
    return tuple(networks)


def parse_encryption_keys(raw: str, name: str = "FOLLOWUP_ENCRYPTION_KEY") -> tuple[str, ...]:
    """Comma-separated Fernet keys (first encrypts, all decrypt), each checked for its form."""
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError(f"{name}: empty")
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded "
                "bytes, 44 characters); make one with `followup secrets generate-key`"
            ) from None
    return keys


def parse_smtp_url(raw: str, name: str = "FOLLOWUP_SMTP_URL") -> SmtpSettings:
    """Parse smtp://user:password@host:port?starttls=true&timeout=30 (or smtps://)."""
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{name}: not a valid URL ({exc})") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"{name}: scheme must be smtp:// or smtps://, got {raw.split(':')[0]!r}")
    if not parts.hostname:
        raise ConfigError(f"{name}: no host in {parts.scheme}:// URL")
    options: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        key, _, value = pair.partition("=")
        options[key.lower()] = value
    unknown = set(options) - {"starttls", "timeout"}
    if unknown:
        raise ConfigError(f"{name}: unknown option(s) {', '.join(sorted(unknown))}")
    starttls_raw = options.get("starttls", "false").lower()
    if starttls_raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name}: starttls must be true or false, got {starttls_raw!r}")
    try:
        timeout = float(options.get("timeout", "30"))
    except ValueError:
        raise ConfigError(f"{name}: timeout must be a number of seconds") from None
    ssl = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if ssl else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=ssl,
        starttls=starttls_raw in ("true", "1", "yes"),
        timeout=timeout,
    )


def _database_url(env: Mapping[str, str], instance: Path) -> str:
    raw = _get(env, "FOLLOWUP_DATABASE_URL")
    if raw is None:
        return f"sqlite:///{instance / 'followup.db'}"
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"FOLLOWUP_DATABASE_URL: not a database URL: {raw.split(':')[0]}:..."
        ) from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"FOLLOWUP_DATABASE_URL: sqlite or postgresql expected, got {backend!r}")
    if backend == "postgresql" and url.drivername == "postgresql":
        # psycopg 3 is what we ship; SQLAlchemy's bare "postgresql" means psycopg2.
        raw = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return raw


def _base_url(env: Mapping[str, str]) -> str:
    raw = _get(env, "FOLLOWUP_BASE_URL") or "http://127.0.0.1:8000"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"FOLLOWUP_BASE_URL: expected http(s)://host[:port], got {raw!r}")
    return raw.rstrip("/")


def _bind(env: Mapping[str, str], name: str) -> tuple[str, int] | None:
    """`host:port` (or `:port`, on 127.0.0.1) to listen on, or unset / `off`: None."""
    raw = _get(env, name)
    if raw is None or raw.strip().lower() == "off":
        return None
    host, _, port = raw.strip().rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: expected host:port (0.0.0.0:9191) or off, got {raw!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _redis_url(env: Mapping[str, str]) -> str | None:
    raw = _get(env, "FOLLOWUP_REDIS_URL")
    if raw is None:
        return None
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"FOLLOWUP_REDIS_URL: expected redis://host:port/db, got {raw!r}")
    return raw


def _delivery_probe(env: Mapping[str, str]) -> str:
    raw = (_get(env, "FOLLOWUP_DELIVERY_PROBE") or "none").strip().lower()
    if raw not in ("none", "sink"):
        raise ConfigError(f"FOLLOWUP_DELIVERY_PROBE: expected none or sink, got {raw!r}")
    return raw


_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


def _dkim_pem(name: str, pem: bytes, where: str) -> bytes:
    """`pem` if it is an unencrypted RSA private key; a ConfigError naming `name` if not."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{name}: {where} is not an unencrypted PEM private key "
            "(make one with `followup dkim keygen`)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
        raise ConfigError(f"{name}: {where} must be an RSA key of 1024 bits or more (2048 advised)")
    return pem


def _dkim_keys(env: Mapping[str, str]) -> tuple[DkimKey, ...]:
    """FOLLOWUP_DKIM_KEYS=domain:selector:/path/key.pem,... and/or one key given inline."""
    keys: list[DkimKey] = []
    name = "FOLLOWUP_DKIM_KEYS"
    for item in filter(None, (part.strip() for part in (_get(env, name) or "").split(","))):
        domain, _, rest = item.partition(":")
        selector, _, path = rest.partition(":")
        domain, selector, path = domain.strip().lower(), selector.strip(), path.strip()
        if not (domain and selector and path):
            raise ConfigError(f"{name}: expected domain:selector:/path/to/key.pem, got {item!r}")
        if not _DOMAIN.match(domain):
            raise ConfigError(f"{name}: not a domain name: {domain!r}")
        if not _SELECTOR.match(selector):
            raise ConfigError(f"{name}: not a DKIM selector: {selector!r}")
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None
        signing = all(k.domain != domain for k in keys)
        keys.append(DkimKey(domain, selector, _dkim_pem(name, pem, path), signing, name))
    inline = _get(env, "FOLLOWUP_DKIM_PRIVATE_KEY")
    if inline is not None:
        domain = (_get(env, "FOLLOWUP_DKIM_DOMAIN") or "").strip().lower()
        selector = (_get(env, "FOLLOWUP_DKIM_SELECTOR") or "").strip()
        if not _DOMAIN.match(domain):
            raise ConfigError(
                "FOLLOWUP_DKIM_DOMAIN: the domain FOLLOWUP_DKIM_PRIVATE_KEY signs for "
                f"is required, got {domain!r}"
            )
        if not _SELECTOR.match(selector):
            raise ConfigError(
                f"FOLLOWUP_DKIM_SELECTOR: a DKIM selector is required, got {selector!r}"
            )
        pem = _dkim_pem("FOLLOWUP_DKIM_PRIVATE_KEY", inline.encode(), "the value")
        signing = all(k.domain != domain for k in keys)
        keys.append(DkimKey(domain, selector, pem, signing, "FOLLOWUP_DKIM_PRIVATE_KEY"))
    return tuple(keys)


def _encryption_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _get(env, "FOLLOWUP_ENCRYPTION_KEY")
    return () if raw is None else parse_encryption_keys(raw)


def _inbound_tls(env: Mapping[str, str]) -> tuple[Path | None, Path | None, bool]:
    cert = _get(env, "FOLLOWUP_INBOUND_TLS_CERT")
    key = _get(env, "FOLLOWUP_INBOUND_TLS_KEY")
    require = _bool(env, "FOLLOWUP_INBOUND_REQUIRE_TLS", False)
    if cert and not key:
        raise ConfigError("FOLLOWUP_INBOUND_TLS_KEY: required with FOLLOWUP_INBOUND_TLS_CERT")
    if key and not cert:
        raise ConfigError("FOLLOWUP_INBOUND_TLS_CERT: required with FOLLOWUP_INBOUND_TLS_KEY")
    if require and not cert:
        raise ConfigError(
            "FOLLOWUP_INBOUND_REQUIRE_TLS: needs FOLLOWUP_INBOUND_TLS_CERT and "
            "FOLLOWUP_INBOUND_TLS_KEY (a certificate to offer)"
        )
    return (Path(cert) if cert else None), (Path(key) if key else None), require


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment; raise ConfigError naming the bad variable."""
    env = os.environ if env is None else env
    production = _bool(env, "FOLLOWUP_PRODUCTION", False)
    instance = Path(_get(env, "FOLLOWUP_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    database_url = _database_url(env, instance)
    secret_raw = _get(env, "FOLLOWUP_SECRET_KEY")
    if secret_raw is None:
        if production:
            raise ConfigError(
                "FOLLOWUP_SECRET_KEY: required in production (FOLLOWUP_PRODUCTION=true)"
            )
        if not database_url.startswith("sqlite"):
            raise ConfigError(
                "FOLLOWUP_SECRET_KEY: required when FOLLOWUP_DATABASE_URL is not SQLite"
            )
        secret_raw = EMBEDDED_SECRET
    # A comma-separated list: the first signs, all verify, so a rotated key keeps old links alive.
    keys = tuple(k.strip() for k in secret_raw.split(",") if k.strip())
    if not keys:
        raise ConfigError("FOLLOWUP_SECRET_KEY: empty")
    if production and any(len(k) < 16 for k in keys):
        raise ConfigError("FOLLOWUP_SECRET_KEY: each key must be at least 16 characters")
    base_url = _base_url(env)
    mail_domain = _get(env, "FOLLOWUP_MAIL_DOMAIN") or (urlsplit(base_url).hostname or "localhost")
    tls_cert, tls_key, require_tls = _inbound_tls(env)
    return Settings(
        database_url=database_url,
        redis_url=_redis_url(env),
        smtp=parse_smtp_url(_get(env, "FOLLOWUP_SMTP_URL") or "smtp://127.0.0.1:1025"),
        base_url=base_url,
        secret_keys=keys,
        instance_path=instance,
        production=production,
        sink_dir=Path(_get(env, "FOLLOWUP_SINK_DIR") or instance / "mail").resolve(),
        mail_domain=mail_domain,
        default_from_email=_get(env, "FOLLOWUP_FROM_EMAIL") or f"sales@{mail_domain}",
        default_from_name=_get(env, "FOLLOWUP_FROM_NAME") or "Followup",
        ip_truncate=_bool(env, "FOLLOWUP_IP_TRUNCATE", False),
        metrics_token=_get(env, "FOLLOWUP_METRICS_TOKEN"),
        # 40 MB: a 25 MB attachment, the common provider limit, is ~34 MB once base64-encoded.
        inbound_max_bytes=_int(env, "FOLLOWUP_INBOUND_MAX_BYTES", 40 * 1024 * 1024, minimum=1024),
        redis_namespace=_get(env, "FOLLOWUP_REDIS_NAMESPACE") or "followup",
        send_lease_seconds=_int(env, "FOLLOWUP_SEND_LEASE_SECONDS", 300, minimum=1),
        send_batch=_int(env, "FOLLOWUP_SEND_BATCH", 50, minimum=1),
        max_send_attempts=_int(env, "FOLLOWUP_MAX_SEND_ATTEMPTS", 8, minimum=1),
        delivery_probe=_delivery_probe(env),
        auto_reply_pause_days=_int(env, "FOLLOWUP_AUTO_REPLY_PAUSE_DAYS", 7, minimum=1),
        soft_bounce_limit=_int(env, "FOLLOWUP_SOFT_BOUNCE_LIMIT", 3, minimum=1),
        reply_to_inbound=_bool(env, "FOLLOWUP_REPLY_TO_INBOUND", False),
        spool_fsync=_bool(env, "FOLLOWUP_SPOOL_FSYNC", False),
        spool_drain=_choice(env, "FOLLOWUP_SPOOL_DRAIN", ("thread", "external"), "thread"),
        webhook_allow_private=_bool(env, "FOLLOWUP_WEBHOOK_ALLOW_PRIVATE", False),
        webhook_allow_networks=_networks(env, "FOLLOWUP_WEBHOOK_ALLOW_NETWORKS"),
        api_max_body_bytes=_int(env, "FOLLOWUP_API_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024),
        dkim_keys=_dkim_keys(env),
        given=frozenset(
            name.removesuffix("_FILE")
            for name, value in env.items()
            if name.startswith("FOLLOWUP_") and value
        ),
        encryption_keys=_encryption_keys(env),
        inbound_tls_cert=tls_cert,
        inbound_tls_key=tls_key,
        inbound_require_tls=require_tls,
        throttle_base_seconds=_int(env, "FOLLOWUP_THROTTLE_BASE_SECONDS", 1, minimum=1),
        throttle_max_seconds=_int(env, "FOLLOWUP_THROTTLE_MAX_SECONDS", 900, minimum=1),
        trusted_proxies=_int(env, "FOLLOWUP_TRUSTED_PROXIES", 0, minimum=0),
        worker_metrics=_bind(env, "FOLLOWUP_WORKER_METRICS"),
        worker_metrics_dir=Path(
            _get(env, "FOLLOWUP_WORKER_METRICS_DIR") or instance / "worker-metrics"
        ),
        scheduler_metrics=_bind(env, "FOLLOWUP_SCHEDULER_METRICS"),
        metrics_bind=_bind(env, "FOLLOWUP_METRICS_BIND"),
    )


def demo_domain(email: str) -> str | None:
    """The domain of `email` if no mailbox on the internet can answer it: a loopback name
    (localhost, *.localhost) or an IP literal (127.0.0.1, [::1]); else None."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    if domain in ("", "localhost") or domain.endswith(".localhost"):
        return domain or "(none)"
    try:
        ipaddress.ip_address(domain.strip("[]").removeprefix("ipv6:"))
    except ValueError:
        return None
    return domain


def demo_sender(settings: Settings) -> str | None:
    """The default sender's address when it is still a demo one (on a loopback or IP-literal
    domain, e.g. sales@127.0.0.1 from the default base URL); else None."""
    return settings.default_from_email if demo_domain(settings.default_from_email) else None


def check_sender(settings: Settings) -> None:
    """In production, refuse to send from a demo address: a recipient's server rejects it or
    files it as spam, and a reply can never come back. Raises ConfigError, one line."""
    address = demo_sender(settings)
    if settings.production and address is not None:
        raise ConfigError(
            f"FOLLOWUP_FROM_EMAIL: the sender is still the demo address {address}, which no "
            "mail server accepts; set FOLLOWUP_FROM_EMAIL to your own address "
            "(e.g. sales@yourcompany.com) or FOLLOWUP_MAIL_DOMAIN to your domain"
        )
