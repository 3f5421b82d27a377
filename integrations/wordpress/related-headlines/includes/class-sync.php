<?php
/**
 * Keeps the service in step with the site: a published post is pushed when it is published or
 * updated, and deleted when it is trashed, unpublished, made private or password-protected.
 *
 * Hooks: `wp_after_insert_post` pushes (it runs once the post's categories and tags are saved; the
 * block editor saves them through the REST API after `save_post` and `transition_post_status` have
 * run, so a push from those would miss a new post's terms); `transition_post_status` deletes when a
 * post leaves `publish`; `before_delete_post` deletes a published post deleted outright.
 *
 * A failure is logged (error_log) and never stops the editor's save: a write waits at most 3 s, and one
 * that got no answer, a 408, 429 or 5xx is sent again by WP-Cron (after 1, 5 and 30 minutes). After a
 * write got no answer, writes skip the service for a minute and go straight to the retry queue, so a
 * bulk action on 50 posts does not wait 50 timeouts.
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * Pushes and deletes articles.
 */
final class Sync {

	const RETRY_HOOK  = 'related_headlines_retry';
	const RETRY_DELAYS = array( 60, 300, 1800 );
	const UNREACHABLE = 'related_headlines_unreachable'; // A transient: the service got no answer lately.

	/**
	 * What this request already did, by action and post ID (one save can run the hooks twice).
	 *
	 * @var array
	 */
	private $done = array();

	/**
	 * Hooks the post changes and the retries.
	 */
	public function register() {
		add_action( 'wp_after_insert_post', array( $this, 'after_insert_post' ), 10, 2 );
		add_action( 'transition_post_status', array( $this, 'transition_post_status' ), 10, 3 );
		add_action( 'before_delete_post', array( $this, 'before_delete_post' ), 10, 2 );
		add_action( self::RETRY_HOOK, array( $this, 'retry' ), 10, 3 );
	}

	/**
	 * A post was saved (its terms and meta too): push it when it is published.
	 *
	 * @param int      $post_id The post ID.
	 * @param \WP_Post $post    The post.
	 */
	public function after_insert_post( $post_id, $post ) {
		if ( $post instanceof \WP_Post && 'publish' === $post->post_status ) {
			$this->apply( self::action_for( $post, '' ), $post, 1 );
		}
	}

	/**
	 * A post changed status: delete its article when it leaves `publish`.
	 *
	 * @param string   $new_status The new status.
	 * @param string   $old_status The old status.
	 * @param \WP_Post $post       The post.
	 */
	public function transition_post_status( $new_status, $old_status, $post ) {
		if ( $post instanceof \WP_Post && 'publish' !== $new_status
			&& 'delete' === self::action_for( $post, $old_status, $new_status ) ) {
			$this->apply( 'delete', $post, 1 );
		}
	}

	/**
	 * A post is deleted outright (a trashed post's article is already gone).
	 *
	 * @param int      $post_id The post ID.
	 * @param \WP_Post $post    The post.
	 */
	public function before_delete_post( $post_id, $post = null ) {
		$post = $post instanceof \WP_Post ? $post : get_post( $post_id );
		if ( $post instanceof \WP_Post && 'publish' === $post->post_status
			&& 'skip' !== self::action_for( $post, 'publish', 'trash' ) ) {
			$this->apply( 'delete', $post, 1 );
		}
	}

	/**
	 * A retry from WP-Cron: a push looks at the post as it is now.
	 *
	 * @param string     $action  push or delete.
	 * @param int|string $target  The post ID (push) or article id (delete).
	 * @param int        $attempt This attempt's number (2 and up).
	 */
	public function retry( $action, $target, $attempt ) {
		if ( 'delete' === $action ) {
			$this->send( 'delete', (string) $target, null, (int) $attempt );
			return;
		}
		$post = get_post( (int) $target );
		if ( $post instanceof \WP_Post ) {
			$this->apply( self::action_for( $post, 'publish' ), $post, (int) $attempt ); // Unpublished since: delete.
		}
	}

	/**
	 * What a change does to the post's article (Article_Mapper::action over the post's values).
	 *
	 * @param \WP_Post    $post            The post.
	 * @param string      $previous_status Its status before ('' : unknown).
	 * @param string|null $status          Its status now (default: the post's).
	 */
	public static function action_for( $post, $previous_status, $status = null ) {
		return Article_Mapper::action(
			null === $status ? $post->post_status : $status,
			$previous_status,
			is_post_type_viewable( $post->post_type ),
			'' !== (string) $post->post_password,
			wp_is_post_revision( $post ) || wp_is_post_autosave( $post )
		);
	}

	/**
	 * The article of a post, or null (a post without a title).
	 *
	 * @param \WP_Post $post The post.
	 * @return array|null
	 */
	public static function article( $post ) {
		$values = array(
			'ID'         => $post->ID,
			'title'      => $post->post_title,
			'content'    => strip_shortcodes( $post->post_content ),
			'excerpt'    => $post->post_excerpt,
			'permalink'  => get_permalink( $post ),
			'date_gmt'   => $post->post_date_gmt,
			'categories' => self::term_names( $post, 'category' ),
			'tags'       => self::term_names( $post, 'post_tag' ),
		);
		$article = Article_Mapper::to_article( $values, self::site() );
		/**
		 * Filters the article sent for a post (null: send none), e.g. to set its language on a
		 * multilingual site or its section from a primary category.
		 *
		 * @param array|null $article The article.
		 * @param \WP_Post   $post    The post.
		 */
		return apply_filters( 'related_headlines_article', $article, $post );
	}

	/**
	 * The article id of a post.
	 *
	 * @param \WP_Post|int $post The post or its ID.
	 */
	public static function article_id( $post ) {
		return Article_Mapper::article_id( self::site()['key'], $post instanceof \WP_Post ? $post->ID : (int) $post );
	}

	/**
	 * The site's values for the mapping.
	 */
	public static function site() {
		/**
		 * Filters the site's part of article ids (default: the home URL's host and folder). Pin it before
		 * moving the site to another domain, so that its articles keep their ids.
		 *
		 * @param string $key The site key, e.g. `example.com`.
		 */
		$key = apply_filters( 'related_headlines_site_key', Article_Mapper::site_key( home_url() ) );
		return array(
			'key'    => (string) $key,
			'locale' => get_locale(),
			'name'   => get_bloginfo( 'name' ),
		);
	}

	/**
	 * Whether the service got no answer lately (writes and blocks then skip it for a while).
	 */
	public static function unreachable() {
		return (bool) get_transient( self::UNREACHABLE );
	}

	/**
	 * Pushes or deletes a post's article.
	 *
	 * @param string   $action  push, delete or skip.
	 * @param \WP_Post $post    The post.
	 * @param int      $attempt The attempt's number.
	 */
	private function apply( $action, $post, $attempt ) {
		if ( 'push' === $action ) {
			$article = self::article( $post );
			if ( is_array( $article ) ) {
				$this->send( 'push', $post->ID, $article, $attempt );
				return;
			}
			$action = 'delete'; // No title, or filtered out: no article (an earlier one goes).
		}
		if ( 'delete' === $action ) {
			$this->send( 'delete', self::article_id( $post ), null, $attempt );
		}
	}

	/**
	 * Sends one write (once per request and target), logs a failure and schedules its retry.
	 *
	 * @param string     $action  push or delete.
	 * @param int|string $target  The post ID (push) or article id (delete).
	 * @param array|null $article The article (push).
	 * @param int        $attempt The attempt's number.
	 */
	private function send( $action, $target, $article, $attempt ) {
		$key = $action . ':' . $target;
		if ( isset( $this->done[ $key ] ) ) {
			return;
		}
		$this->done[ $key ] = true;
		$client             = Plugin::client();
		if ( ! $client->configured() ) {
			return;
		}
		$what = 'push' === $action ? sprintf( 'post %d (%s)', $target, $article['id'] ) : 'article ' . $target;
		if ( 1 === $attempt && self::unreachable() ) { // A retry always tries.
			$result = array(
				'ok'     => false,
				'status' => 0,
				'retry'  => true,
				'error'  => 'the service got no answer in the last minute',
			);
		} else {
			$result = 'push' === $action ? $client->push( $article ) : $client->delete( (string) $target );
			if ( 0 === $result['status'] ) {
				set_transient( self::UNREACHABLE, 1, MINUTE_IN_SECONDS );
			}
		}
		if ( $result['ok'] ) {
			return;
		}
		$delays = self::RETRY_DELAYS;
		if ( $result['retry'] && $attempt <= count( $delays ) ) {
			wp_schedule_single_event( time() + $delays[ $attempt - 1 ], self::RETRY_HOOK, array( $action, $target, $attempt + 1 ) );
			self::log( sprintf( '%s of %s failed (%s); trying again in %d s', $action, $what, $result['error'], $delays[ $attempt - 1 ] ) );
		} else {
			self::log( sprintf( '%s of %s failed (%s); not retried', $action, $what, $result['error'] ) );
		}
	}

	/**
	 * Category or tag names of a post (none when its type has no such taxonomy).
	 *
	 * @param \WP_Post $post     The post.
	 * @param string   $taxonomy category or post_tag.
	 */
	private static function term_names( $post, $taxonomy ) {
		$terms = get_the_terms( $post, $taxonomy );
		return is_array( $terms ) ? wp_list_pluck( $terms, 'name' ) : array();
	}

	/**
	 * One line in PHP's error log.
	 *
	 * @param string $message The message (never holds the API key: Service_Client redacts it).
	 */
	public static function log( $message ) {
		error_log( 'related-headlines: ' . $message ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
	}
}
