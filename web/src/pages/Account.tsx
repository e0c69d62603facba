// The player's account: the profile from `GET /api/v1/me`, then one section per area of the account. The
// sections list is where "Security (two-factor sign-in)" and "Gambling limits" join, each as its own section
// (see ACCOUNT_SECTIONS), with no controls shown before they exist.
import { useEffect, useState, type ReactNode } from "react";
import { api, errorText, ok } from "../api/client";
import { useAuth, type Me } from "../auth";
import { formatDate, formatDateTime, kycStatus } from "../components/labels";
import { COUNTRIES, CURRENCIES } from "../components/regions";
import { RequireLogin } from "../components/RequireLogin";
import "./wallet.css";

function Profile({ me }: { me: Me }) {
  const kyc = kycStatus(me.kyc_status);
  const country = COUNTRIES.find((c) => c.code === me.country)?.name ?? me.country ?? "—";
  const currency = CURRENCIES.find((c) => c.code === me.currency);
  return (
    <>
      <dl className="profile">
        <dt>Email</dt>
        <dd>{me.email}</dd>
        <dt>Country</dt>
        <dd>{country}</dd>
        <dt>Currency</dt>
        <dd>{currency ? `${currency.code} – ${currency.name}` : (me.currency ?? "—")}</dd>
        <dt>Date of birth</dt>
        <dd>{me.date_of_birth ? formatDate(me.date_of_birth) : "—"}</dd>
        <dt>Member since</dt>
        <dd>{formatDateTime(me.created_at)}</dd>
        <dt>Identity check</dt>
        <dd>
          <strong>{kyc.label}</strong>
        </dd>
      </dl>
      <p className={me.kyc_status === "verified" ? "success" : "notice"}>{kyc.meaning}</p>
    </>
  );
}

type Section = { id: string; title: string; render: (me: Me) => ReactNode };

// One entry per area of the account, in page order; each becomes a titled panel with its anchor, and the
// "Account sections" navigation appears once there is more than one. Their own issues add, after Profile:
//   { id: "security", title: "Security (two-factor sign-in)", render: (me) => <AccountSecurity me={me} /> },
//   { id: "limits", title: "Gambling limits", render: (me) => <AccountLimits me={me} /> },
const ACCOUNT_SECTIONS: Section[] = [{ id: "profile", title: "Profile", render: (me) => <Profile me={me} /> }];

function AccountPage() {
  const { me: cached } = useAuth();
  const [me, setMe] = useState<Me | null>(cached);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    // the freshest profile (an identity check may have moved since login)
    ok(api.GET("/api/v1/me")).then(
      (m) => {
        setMe(m);
        setError(null);
      },
      (e: unknown) => setError(errorText(e)),
    );
  }, []);

  return (
    <div className="money-page">
      <h1>Account</h1>
      {ACCOUNT_SECTIONS.length > 1 && (
        <nav aria-label="Account sections">
          <ul className="sections">
            {ACCOUNT_SECTIONS.map((s) => (
              <li key={s.id}>
                <a href={`#${s.id}`}>{s.title}</a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {me === null && error === null && <p className="loading">Loading…</p>}
      {me !== null &&
        ACCOUNT_SECTIONS.map((s) => (
          <section key={s.id} id={s.id} className="panel" aria-labelledby={`${s.id}-title`}>
            <h2 id={`${s.id}-title`}>{s.title}</h2>
            {s.render(me)}
          </section>
        ))}
    </div>
  );
}

export default function Account() {
  return (
    <RequireLogin>
      <AccountPage />
    </RequireLogin>
  );
}
