// Log in with email and password (and the authenticator code when the platform asks for it), then go back to
// where the player came from; staff go to the back office.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api, ApiError, errorText, ok, saveToken } from "../api/client";
import { describe } from "../api/messages";
import { useAuth } from "../auth";
import { safeNext } from "../components/next";
import "./wallet.css";

export default function Login() {
  const { me, refresh } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [otp, setOtp] = useState("");
  const [needOtp, setNeedOtp] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now());
  const otpRef = useRef<HTMLInputElement>(null);
  const errorRef = useRef<HTMLParagraphElement>(null);

  useEffect(() => {
    if (waitUntil === null) return;
    const t = window.setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= waitUntil) {
        setWaitUntil(null);
        setError(null);
      }
    }, 1000);
    return () => window.clearInterval(t);
  }, [waitUntil]);

  useEffect(() => {
    if (needOtp) otpRef.current?.focus();
  }, [needOtp]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (email.trim() === "" || password === "") {
      setError("Enter your email and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = { email: email.trim(), password, ...(needOtp && otp.trim() !== "" ? { otp: otp.trim() } : {}) };
      let answer;
      try {
        answer = await api.POST("/api/v1/sessions", { body });
      } catch {
        throw new ApiError(0, "network_error", "the platform cannot be reached");
      }
      if (!answer.response.ok) {
        const retry = Number(answer.response.headers.get("Retry-After"));
        if (answer.response.status === 429 && retry > 0) setWaitUntil(Date.now() + retry * 1000);
        await ok(Promise.resolve(answer)); // throws the API's code
      }
      const session = answer.data;
      if (session === undefined) throw new ApiError(answer.response.status, "invalid_request", "no session");
      saveToken(session.token);
      const account = await ok(api.GET("/api/v1/me"));
      await refresh();
      // the back office is its own app: a full page load, as the header's link does
      if (account.role !== "player") window.location.assign("/admin");
      else navigate(next, { replace: true });
    } catch (err) {
      const code = err instanceof ApiError ? err.code : "network_error";
      if (code === "otp_required") {
        if (needOtp && otp.trim() !== "") setError("That code is not right, or it has expired. Try the current one.");
        else setError(null);
        setNeedOtp(true);
      } else {
        setError(errorText(err));
      }
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    if (error !== null) errorRef.current?.focus();
  }, [error]);

  const waiting = waitUntil !== null ? Math.max(0, Math.ceil((waitUntil - now) / 1000)) : 0;

  return (
    <div className="money-page">
      <h1>Log in</h1>
      {me !== null && (
        <p className="notice">
          You are logged in as {me.email}. <Link to={next}>Continue</Link>
        </p>
      )}
      <form className="panel auth-form" onSubmit={submit} noValidate>
        <label htmlFor="login-email">Email</label>
        <input
          id="login-email"
          type="email"
          autoComplete="username"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          required
        />
        <label htmlFor="login-password">Password</label>
        <input
          id="login-password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        {needOtp && (
          <>
            <label htmlFor="login-otp">Authenticator code</label>
            <input
              id="login-otp"
              ref={otpRef}
              type="text"
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={16}
              value={otp}
              onChange={(e) => setOtp(e.target.value)}
              aria-describedby="login-otp-hint"
            />
            <p id="login-otp-hint" className="hint">
              {describe("otp_required")} A recovery code works too.
            </p>
          </>
        )}
        {error !== null && (
          <p className="error" role="alert" tabIndex={-1} ref={errorRef}>
            {error}
            {waiting > 0 && ` You can try again in ${waiting} s.`}
          </p>
        )}
        <button type="submit" disabled={busy || waiting > 0}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
      <p>
        New here? <Link to="/register">Open an account</Link>
      </p>
    </div>
  );
}
