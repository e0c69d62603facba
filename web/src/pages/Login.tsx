// Placeholder until its page is built (issue 13).
export default function Login() {
  return <p className="notice">Login is being built.</p>;
}
