// Placeholder until its page is built (issue 13).
export default function Register() {
  return <p className="notice">Register is being built.</p>;
}
