// Placeholder until its page is built (issue 13).
export default function Wallet() {
  return <p className="notice">Wallet is being built.</p>;
}
