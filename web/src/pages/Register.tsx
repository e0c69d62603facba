// Open a player account: email, password (with a strength hint), date of birth, country and currency. The
// platform's refusals show at the field they are about; once the account exists the player is logged in.
import { useRef, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { api, ApiError, errorText, ok } from "../api/client";
import { describe } from "../api/messages";
import { useAuth } from "../auth";
import { passwordHint } from "../components/labels";
import { ageOn, COUNTRIES, CURRENCIES, currencyFor } from "../components/regions";
import "./wallet.css";

type Field = "email" | "password" | "date_of_birth" | "country" | "currency";
type Errors = Partial<Record<Field | "form", string>>;

const FIELD_OF: Record<string, Field> = {
  email_taken: "email",
  invalid_email: "email",
  weak_password: "password",
  underage: "date_of_birth",
  invalid_country: "country",
  invalid_currency: "currency",
};

const ORDER: Field[] = ["email", "password", "date_of_birth", "country", "currency"];

export default function Register() {
  const { login } = useAuth();
  const navigate = useNavigate();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [dob, setDob] = useState("");
  const [country, setCountry] = useState("");
  const [currency, setCurrency] = useState("");
  const [currencyTouched, setCurrencyTouched] = useState(false);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const hint = passwordHint(password, email);

  function focusFirst(found: Errors) {
    const first = ORDER.find((f) => found[f]);
    if (first) formRef.current?.querySelector<HTMLElement>(`#reg-${first}`)?.focus();
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: Errors = {};
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) found.email = describe("invalid_email");
    if (password.length < 10) found.password = "Use at least 10 characters.";
    const age = ageOn(dob);
    if (age === null) found.date_of_birth = "Enter your date of birth.";
    else if (age < 18) found.date_of_birth = describe("underage");
    if (country === "") found.country = describe("invalid_country");
    if (currency === "") found.currency = describe("invalid_currency");
    setErrors(found);
    if (Object.keys(found).length > 0) {
      focusFirst(found);
      return;
    }
    setBusy(true);
    try {
      await ok(
        api.POST("/api/v1/players", {
          body: { email: email.trim(), password, date_of_birth: dob, country, currency },
        }),
      );
    } catch (err) {
      const code = err instanceof ApiError ? err.code : "network_error";
      const text = errorText(err);
      const field = FIELD_OF[code];
      const next: Errors = field ? { [field]: text } : { form: text };
      setErrors(next);
      focusFirst(next);
      setBusy(false);
      return;
    }
    try {
      await login(email.trim(), password);
      navigate("/wallet", { replace: true });
    } catch (err) {
      // the account exists: the player can log in by hand
      setErrors({ form: `Your account is open, but logging in failed: ${errorText(err)}` });
      setBusy(false);
    }
  }

  const describedBy = (field: Field, extra?: string) =>
    [errors[field] ? `reg-${field}-error` : null, extra ?? null].filter(Boolean).join(" ") || undefined;
  const fieldError = (field: Field) =>
    errors[field] ? (
      <p id={`reg-${field}-error`} className="field-error" role="alert">
        {errors[field]}
        {field === "email" && errors.email === describe("email_taken") && (
          <>
            {" "}
            <Link to="/login">Log in</Link>
          </>
        )}
      </p>
    ) : null;

  return (
    <div className="money-page">
      <h1>Open an account</h1>
      <form ref={formRef} className="panel auth-form" onSubmit={submit} noValidate>
        <label htmlFor="reg-email">Email</label>
        <input
          id="reg-email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          aria-invalid={errors.email ? true : undefined}
          aria-describedby={describedBy("email")}
          required
        />
        {fieldError("email")}

        <label htmlFor="reg-password">Password</label>
        <input
          id="reg-password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={errors.password ? true : undefined}
          aria-describedby={describedBy("password", "reg-password-hint")}
          required
        />
        <div className={`strength strength-${hint.level}`} aria-hidden="true">
          <span />
        </div>
        <p id="reg-password-hint" className="hint" aria-live="polite">
          {hint.text}
        </p>
        {fieldError("password")}

        <label htmlFor="reg-date_of_birth">Date of birth</label>
        <input
          id="reg-date_of_birth"
          type="date"
          autoComplete="bday"
          value={dob}
          max={new Date().toISOString().slice(0, 10)}
          onChange={(e) => setDob(e.target.value)}
          aria-invalid={errors.date_of_birth ? true : undefined}
          aria-describedby={describedBy("date_of_birth", "reg-dob-hint")}
          required
        />
        <p id="reg-dob-hint" className="hint">
          You must be 18 or older.
        </p>
        {fieldError("date_of_birth")}

        <label htmlFor="reg-country">Country</label>
        <select
          id="reg-country"
          autoComplete="country"
          value={country}
          onChange={(e) => {
            setCountry(e.target.value);
            if (!currencyTouched && e.target.value !== "") setCurrency(currencyFor(e.target.value));
          }}
          aria-invalid={errors.country ? true : undefined}
          aria-describedby={describedBy("country")}
          required
        >
          <option value="">Choose your country</option>
          {COUNTRIES.map((c) => (
            <option key={c.code} value={c.code}>
              {c.name}
            </option>
          ))}
        </select>
        {fieldError("country")}

        <label htmlFor="reg-currency">Currency</label>
        <select
          id="reg-currency"
          value={currency}
          onChange={(e) => {
            setCurrency(e.target.value);
            setCurrencyTouched(true);
          }}
          aria-invalid={errors.currency ? true : undefined}
          aria-describedby={describedBy("currency", "reg-currency-hint")}
          required
        >
          <option value="">Choose a currency</option>
          {CURRENCIES.map((c) => (
            <option key={c.code} value={c.code}>
              {c.code} – {c.name}
            </option>
          ))}
        </select>
        <p id="reg-currency-hint" className="hint">
          Your wallet holds this currency; it cannot be changed later.
        </p>
        {fieldError("currency")}

        {errors.form && (
          <p className="error" role="alert">
            {errors.form}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Opening your account…" : "Open account"}
        </button>
      </form>
      <p>
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </div>
  );
}
