<?php
/**
 * The block on pages: the `[related_headlines]` shortcode and the `related-headlines/related-headlines`
 * block, both rendered on the server from `GET /v1/articles/<id>/similar`.
 *
 * Answers are cached with the Transients API for 60 s (the API's Cache-Control of similar answers); a
 * failed answer is remembered for 30 s, and after the service gave no answer at all, blocks skip it
 * for a minute. A failure renders nothing: readers never see an error.
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * Shortcode and block.
 */
final class Display {

	const CACHE_SECONDS   = 60;
	const FAILURE_SECONDS = 30;
	const STYLE           = 'related-headlines';
	const BLOCK           = 'related-headlines/related-headlines';
	const SHORTCODE       = 'related_headlines';

	/**
	 * Hooks the shortcode, the block and the stylesheet.
	 */
	public function register() {
		add_action( 'init', array( $this, 'register_block' ) );
		add_shortcode( self::SHORTCODE, array( $this, 'shortcode' ) );
	}

	/**
	 * Registers the stylesheet (the widget's, see assets/) and the dynamic block.
	 */
	public function register_block() {
		wp_register_style( self::STYLE, plugins_url( 'assets/related-headlines.css', RELATED_HEADLINES_FILE ), array(), RELATED_HEADLINES_VERSION );
		register_block_type( RELATED_HEADLINES_DIR . 'block', array( 'render_callback' => array( $this, 'render_block' ) ) );
	}

	/**
	 * `[related_headlines k="5" title="..." post="42" fill="section" profile="widget" theme="dark" lang="ar"]`:
	 * every attribute optional; the current post by default.
	 *
	 * @param array|string $atts Attributes.
	 */
	public function shortcode( $atts ) {
		$atts = shortcode_atts(
			array(
				'k'       => '',
				'title'   => '',
				'post'    => '',
				'fill'    => '',
				'profile' => '',
				'theme'   => '',
				'lang'    => '',
			),
			$atts,
			self::SHORTCODE
		);
		$post = '' !== $atts['post'] ? get_post( absint( $atts['post'] ) ) : get_post();
		return $this->for_post( $post, $atts );
	}

	/**
	 * The block's render_callback.
	 *
	 * @param array          $attributes The block's attributes (k, title).
	 * @param string         $content    Unused (a dynamic block saves nothing).
	 * @param \WP_Block|null $block      The block, with the post of a query loop as context.
	 */
	public function render_block( $attributes, $content = '', $block = null ) {
		$post_id = ( $block instanceof \WP_Block && ! empty( $block->context['postId'] ) ) ? (int) $block->context['postId'] : get_the_ID();
		return $this->for_post( $post_id ? get_post( $post_id ) : null, is_array( $attributes ) ? $attributes : array() );
	}

	/**
	 * The block of a post: nothing for a post that is not pushed (not published, protected, ...).
	 *
	 * @param \WP_Post|null $post The post.
	 * @param array         $atts Options (k, title, fill, profile, theme, lang).
	 */
	private function for_post( $post, array $atts ) {
		if ( ! $post instanceof \WP_Post || 'push' !== Sync::action_for( $post, '' ) ) {
			return '';
		}
		return $this->block_html( Sync::article_id( $post ), $atts );
	}

	/**
	 * The block of an article id (sanitizing the options, escaping in Block_Renderer).
	 *
	 * @param string $article_id The article id.
	 * @param array  $atts       Options (k, title, fill, profile, theme, lang).
	 */
	public function block_html( $article_id, array $atts ) {
		$settings = Settings::get();
		$option   = function ( $name ) use ( $atts ) {
			return isset( $atts[ $name ] ) && is_scalar( $atts[ $name ] ) ? trim( (string) $atts[ $name ] ) : '';
		};
		$k        = absint( $option( 'k' ) );
		$args     = array( 'k' => $k >= 1 ? min( 100, $k ) : $settings['k'] );
		if ( in_array( $option( 'fill' ), array( 'section', 'latest' ), true ) ) {
			$args['fill'] = $option( 'fill' );
		}
		if ( preg_match( '/^[A-Za-z0-9_-]{1,64}$/', $option( 'profile' ) ) ) {
			$args['profile'] = $option( 'profile' );
		}
		/**
		 * Filters the options of the similar request (k, fill, profile, min_relatedness,
		 * recency_half_life_days, diversity, max_age_days, ...: see the service's README).
		 *
		 * @param array  $args       The options.
		 * @param string $article_id The article id.
		 */
		$args   = apply_filters( 'related_headlines_similar_args', $args, $article_id );
		$answer = $this->answer( $settings, $article_id, is_array( $args ) ? $args : array() );
		$title  = '' !== $option( 'title' ) ? $option( 'title' ) : $settings['title'];
		$html   = Block_Renderer::render(
			$answer,
			array(
				'title'         => sanitize_text_field( $title ),
				'lang'          => $option( 'lang' ),
				'fallback_lang' => (string) Article_Mapper::language( get_locale() ),
				'theme'         => $option( 'theme' ),
			)
		);
		if ( '' !== $html ) {
			wp_enqueue_style( self::STYLE );
		}
		return $html;
	}

	/**
	 * The similar answer, from the transient cache or the service; null on failure.
	 *
	 * @param array  $settings   Settings::get().
	 * @param string $article_id The article id.
	 * @param array  $args       The request's options.
	 */
	private function answer( array $settings, $article_id, array $args ) {
		if ( '' === $settings['service_url'] ) {
			return null;
		}
		$key    = 'related_headlines_' . md5( (string) wp_json_encode( array( $settings['service_url'], $article_id, $args ) ) );
		$cached = get_transient( $key );
		if ( is_array( $cached ) ) {
			return isset( $cached['failed'] ) ? null : $cached;
		}
		if ( Sync::unreachable() ) {
			return null;
		}
		$client = Plugin::client();
		$answer = $client->similar( $article_id, $args );
		if ( null === $answer ) {
			if ( 0 === $client->last_status() ) { // No answer (down, or slower than the read timeout).
				set_transient( Sync::UNREACHABLE, 1, MINUTE_IN_SECONDS );
			}
			set_transient( $key, array( 'failed' => true ), self::FAILURE_SECONDS );
			return null;
		}
		set_transient( $key, $answer, self::CACHE_SECONDS );
		return $answer;
	}
}
